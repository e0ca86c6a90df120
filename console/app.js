// The OMS console: one Alpine component over the public HTTP API (same origin), no build step.
// The API key lives in sessionStorage only: closing the tab signs out.
"use strict";

const KEY_STORAGE = "oms.console.apiKey";

// What each role may open; the API enforces the same rules, this only hides what would be refused.
const PAGES = {
  search: { title: "Orders", roles: ["channel", "agent", "ops"] },
  order: { title: "Order", roles: ["channel", "agent", "ops"], hidden: true },
  customer: { title: "Customer", roles: ["agent", "ops"], hidden: true },
  operations: { title: "Operations", roles: ["agent", "ops"] },
  reports: { title: "Reports", roles: ["agent", "ops"] },
  warehouse: { title: "Warehouse", roles: ["wms", "ops"] },
};
const ROLE_NAMES = { channel: "sales channel", wms: "warehouse", agent: "service agent", ops: "operator" };
const FO_NEXT_STEP = { allocated: "accept", accepted: "pick", picked: "pack", packed: "ship" };

class Problem extends Error {
  constructor(body, status) {
    // API Gateway's own answers (throttled, too large) are {"message": ...}, not problems.
    super(body.title || body.message || `HTTP ${status}`);
    this.title = body.title || body.message || `HTTP ${status}`;
    this.status = body.status || status;
    this.detail = body.detail || "";
    this.errors = Array.isArray(body.errors) ? body.errors : [];
  }
}

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function escapeXml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

// A layered drawing of the state machine: each state in the column of its shortest distance
// from the start (catch edges count only where nothing else reaches a state).
function workflowSvg(graph) {
  const names = graph.states.map((s) => s.name);
  const depth = {};
  const start = graph.states.find((s) => s.start && !s.parent) || graph.states[0];
  if (!start) return "";
  const layer = (kinds) => {
    const queue = Object.keys(depth).length ? Object.keys(depth) : [start.name];
    if (!(start.name in depth)) depth[start.name] = 0;
    while (queue.length) {
      const at = queue.shift();
      for (const e of graph.edges) {
        if (e.source === at && kinds.includes(e.kind) && !(e.target in depth)) {
          depth[e.target] = depth[at] + 1;
          queue.push(e.target);
        }
      }
    }
  };
  layer(["next", "choice", "default", "iteration"]);
  layer(["next", "choice", "default", "iteration", "catch"]);
  for (const n of names) if (!(n in depth)) depth[n] = 0;
  const columns = {};
  for (const n of names) (columns[depth[n]] = columns[depth[n]] || []).push(n);
  const W = 150, H = 34, GX = 40, GY = 16;
  const pos = {};
  let rows = 0;
  for (const [d, col] of Object.entries(columns)) {
    col.forEach((n, i) => (pos[n] = { x: 10 + d * (W + GX), y: 10 + i * (H + GY) }));
    rows = Math.max(rows, col.length);
  }
  const width = 20 + Object.keys(columns).length * (W + GX);
  const height = 20 + rows * (H + GY);
  const visited = new Set(graph.visited.map((v) => v.name));
  const order = graph.visited.map((v) => v.name);
  const taken = new Set();
  for (let i = 1; i < order.length; i++) taken.add(`${order[i - 1]}>${order[i]}`);
  const current = new Set(graph.current);
  const parts = [];
  for (const e of graph.edges) {
    const a = pos[e.source], b = pos[e.target];
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    const back = x2 <= x1;
    const path = back
      ? `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${height} ${b.x + W / 2},${height} ${b.x + W / 2},${b.y + H}`
      : `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`;
    const cls = ["edge", e.kind, taken.has(`${e.source}>${e.target}`) ? "taken" : ""].join(" ");
    parts.push(`<path class="${cls}" d="${path}" marker-end="url(#arrow)"><title>${escapeXml(e.source)} → ${escapeXml(e.target)} (${e.kind})</title></path>`);
  }
  for (const s of graph.states) {
    const p = pos[s.name];
    const cls = ["node", visited.has(s.name) ? "visited" : "", current.has(s.name) ? "current" : ""].join(" ");
    const label = s.name.length > 22 ? s.name.slice(0, 21) + "…" : s.name;
    parts.push(
      `<g class="${cls}" data-state="${escapeXml(s.name)}" transform="translate(${p.x},${p.y})">` +
        `<rect width="${W}" height="${H}" rx="${s.type === "Choice" ? 14 : 5}"></rect>` +
        `<text x="8" y="14">${escapeXml(label)}</text>` +
        `<text x="8" y="27" class="muted" fill="#5b6575">${escapeXml(s.type)}${s.parent ? " in " + escapeXml(s.parent) : ""}${current.has(s.name) ? " · now" : ""}</text>` +
        `<title>${escapeXml(s.name)}</title></g>`
    );
  }
  return (
    `<svg role="img" aria-label="Workflow graph, current step ${escapeXml(graph.current.join(", ") || "none")}" width="${width}" height="${height + 20}" viewBox="0 0 ${width} ${height + 20}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#98a2b3"></path></marker></defs>` +
    parts.join("") +
    `</svg>`
  );
}

// How far the orders of a range got, from the orders export (CSV of ids, codes and numbers: no quoting).
function funnelOf(csv) {
  const [head, ...rows] = csv.trim().split(/\r?\n/).filter(Boolean);
  const names = (head || "").split(",");
  const at = (cells, name) => cells[names.indexOf(name)];
  const out = { placed: 0, kept: 0, shipped: 0, completed: 0 };
  for (const row of rows) {
    const cells = row.split(",");
    out.placed += 1;
    if (Number(at(cells, "units_cancelled")) < Number(at(cells, "units"))) out.kept += 1;
    if (Number(at(cells, "shipments")) > 0) out.shipped += 1;
    if (at(cells, "status") === "completed") out.completed += 1;
  }
  return out;
}

document.addEventListener("alpine:init", () => {
  Alpine.data("consoleApp", () => ({
    key: sessionStorage.getItem(KEY_STORAGE) || "",
    keyInput: "",
    me: null,
    page: "signin",
    param: "",
    busy: false,
    problem: null,
    notice: "",
    // search and lists
    query: "",
    searched: false,
    results: [],
    filters: { status: "", fulfillment_status: "", channel: "", customer_id: "", created_after: "", created_before: "" },
    orders: [],
    cursors: [null],
    nextCursor: null,
    // one order
    order: null,
    timeline: [],
    workflow: null,
    workflowSvg: "",
    action: "",
    cancelAll: false,
    cancelQty: {},
    returnQty: {},
    form: { reason: "", amount: "", exchangeSku: "", exchangeQty: 1 },
    preview: null,
    idempotencyKey: "",
    // customer
    customer: null,
    // operations
    exceptions: [],
    backordered: [],
    stuck: [],
    stuckHours: 1,
    exceptionNote: {},
    // reports
    range: { from: isoDay(new Date(Date.now() - 29 * 86400000)), to: isoDay(new Date()) },
    summary: null,
    daily: [],
    funnel: { placed: 0, kept: 0, shipped: 0, completed: 0 },
    reportsReady: false,
    stockSku: "TEE-CLASSIC-M",
    stock: null,
    forecastSku: "TEE-CLASSIC-M",
    forecast: null,
    charts: {},
    // warehouse
    locations: [],
    location: "",
    foStatus: "",
    fulfillmentOrders: [],
    shipForm: {},
    pickList: "",
    pickListFo: "",

    async init() {
      window.addEventListener("hashchange", () => this.route());
      window.addEventListener("keydown", (event) => {
        const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
        if (event.key === "/" && !typing && this.me) {
          event.preventDefault();
          location.hash = "#/search";
          this.$nextTick(() => document.getElementById("search-q")?.focus());
        }
      });
      if (this.key) {
        try {
          this.me = await this.api("GET", "/v1/me");
        } catch (problem) {
          this.signOut();
          this.problem = problem;
        }
      }
      await this.route();
    },

    // --- plumbing -------------------------------------------------------------------------
    async api(method, path, body, { query, idempotencyKey, raw } = {}) {
      const url = new URL(path, location.origin);
      for (const [name, value] of Object.entries(query || {})) {
        if (value === null || value === undefined || value === "") continue;
        for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, v);
      }
      const headers = { "x-api-key": this.key };
      if (body !== undefined) headers["content-type"] = "application/json";
      if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
      const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.text();
      if (!response.ok) {
        let parsed = {};
        try {
          parsed = JSON.parse(text);
        } catch (_) {
          parsed = { title: `HTTP ${response.status}`, detail: text.slice(0, 300) };
        }
        throw new Problem(parsed, response.status);
      }
      if (raw) return text;
      return text ? JSON.parse(text) : {};
    },

    async run(work) {
      this.busy = true;
      this.problem = null;
      try {
        return await work();
      } catch (error) {
        this.problem = error instanceof Problem ? error : new Problem({ title: "The console failed", detail: String(error) }, 0);
        this.$nextTick(() => document.getElementById("problem")?.focus());
        return undefined;
      } finally {
        this.busy = false;
      }
    },

    allowed(page) {
      return !!this.me && PAGES[page].roles.includes(this.me.role);
    },
    navPages() {
      return Object.entries(PAGES).filter(([name, p]) => !p.hidden && this.allowed(name)).map(([name, p]) => ({ name, title: p.title }));
    },
    roleName() {
      return this.me ? ROLE_NAMES[this.me.role] || this.me.role : "";
    },
    canChange() {
      return !!this.me && ["agent", "ops"].includes(this.me.role);
    },
    isOps() {
      return !!this.me && this.me.role === "ops";
    },
    homePage() {
      return this.me?.role === "wms" ? "warehouse" : "search";
    },

    async signIn() {
      const candidate = this.keyInput.trim();
      if (!candidate) {
        this.problem = new Problem({ title: "An API key is needed", errors: [{ field: "api_key", message: "enter your API key" }] }, 400);
        return;
      }
      this.key = candidate;
      const me = await this.run(() => this.api("GET", "/v1/me"));
      if (!me) {
        this.key = "";
        return;
      }
      this.me = me;
      this.keyInput = "";
      document.activeElement?.blur();
      sessionStorage.setItem(KEY_STORAGE, candidate);
      const home = `#/${this.homePage()}`;
      // A new hash routes through hashchange; the same one would not fire it.
      if (location.hash === home) await this.route();
      else location.hash = home;
    },

    signOut() {
      sessionStorage.removeItem(KEY_STORAGE);
      this.key = "";
      this.me = null;
      this.order = null;
      this.customer = null;
      location.hash = "#/signin";
    },

    async route() {
      const [, page = "", ...rest] = (location.hash || "#/").slice(1).split("/");
      this.notice = "";
      if (!this.me) {
        this.page = "signin";
        return;
      }
      const target = PAGES[page] ? page : this.homePage();
      if (!this.allowed(target)) {
        this.page = "denied";
        return;
      }
      this.problem = null;
      this.page = target;
      this.param = decodeURIComponent(rest.join("/"));
      document.title = `${PAGES[target].title} · OMS console`;
      // A new page starts reading (and keyboard shortcuts work) from its top; a problem takes focus later.
      this.$nextTick(() => document.getElementById("main")?.focus({ preventScroll: true }));
      if (target === "search") await this.loadOrders(true);
      if (target === "order") await this.loadOrder(this.param);
      if (target === "customer") await this.loadCustomer(this.param);
      if (target === "operations") await this.loadOperations();
      if (target === "reports") await this.loadReports();
      if (target === "warehouse") await this.loadWarehouse();
    },

    money(amount, currency) {
      if (amount === null || amount === undefined) return "–";
      const cur = currency || this.order?.currency || "EUR";
      try {
        return new Intl.NumberFormat(undefined, { style: "currency", currency: cur }).format(amount / 100);
      } catch (_) {
        return `${(amount / 100).toFixed(2)} ${cur}`;
      }
    },
    when(iso) {
      return iso ? new Date(iso).toLocaleString() : "–";
    },
    pct(value) {
      return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)} %`;
    },
    duration(seconds) {
      if (seconds === null || seconds === undefined) return "–";
      if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
      if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
      return `${(seconds / 86400).toFixed(1)} d`;
    },
    tone(status) {
      if (["completed", "shipped", "fulfilled", "delivered", "captured", "SUCCEEDED", "resolved", "retried", "closed"].includes(status)) return "good";
      if (["cancelled", "failed", "FAILED", "voided", "refunded", "open_exception", "on_hold", "rejected"].includes(status)) return "bad";
      if (["backordered", "partially_shipped", "partially_captured", "partially_refunded", "pending"].includes(status)) return "warn";
      return "";
    },
    // Scalars of a preview or a change, for people: amounts in money, the rest as it is.
    figures(object) {
      const out = [];
      const walk = (value, prefix) => {
        for (const [name, v] of Object.entries(value || {})) {
          const label = prefix ? `${prefix} ${name}` : name;
          if (v !== null && typeof v === "object" && !Array.isArray(v)) walk(v, label);
          else if (!Array.isArray(v) && v !== null && name !== "preview") out.push({ label: label.replaceAll("_", " "), value: v });
        }
      };
      walk(object, "");
      return out;
    },
    figureValue(f) {
      const moneyish = /(total|amount|refund|subtotal|discount|tax|shipping|fee|credit|captured|void|due|balance)/.test(f.label);
      return typeof f.value === "number" && moneyish ? this.money(f.value) : String(f.value);
    },

    // --- search and lists -------------------------------------------------------------------
    async search() {
      const q = this.query.trim();
      if (!q) return;
      const page = await this.run(() => this.api("GET", "/v1/search", undefined, { query: { q } }));
      if (page) {
        this.results = page.items;
        this.searched = true;
      }
    },
    resultLink(item) {
      if (item.kind === "order") return `#/order/${encodeURIComponent(item.order_id)}`;
      if (item.kind === "customer" && this.allowed("customer")) return `#/customer/${encodeURIComponent(item.customer_id)}`;
      return null;
    },
    resultLabel(item) {
      if (item.kind === "order") return `${item.order_id} · ${item.external_id || ""} · ${item.status || ""}`;
      return `${item.name || ""} <${item.email || ""}> ${item.phone || ""}`;
    },
    async loadOrders(first) {
      if (first) {
        this.cursors = [null];
      }
      const f = this.filters;
      const query = {
        status: f.status,
        fulfillment_status: f.fulfillment_status,
        channel: this.me.role === "channel" ? "" : f.channel,
        customer_id: f.customer_id,
        created_after: f.created_after ? `${f.created_after}T00:00:00Z` : "",
        created_before: f.created_before ? `${f.created_before}T23:59:59Z` : "",
        limit: 20,
        cursor: this.cursors[this.cursors.length - 1],
      };
      const page = await this.run(() => this.api("GET", "/v1/orders", undefined, { query }));
      if (page) {
        this.orders = page.items;
        this.nextCursor = page.next_cursor;
      }
    },
    async nextPage() {
      this.cursors.push(this.nextCursor);
      await this.loadOrders(false);
    },
    async previousPage() {
      if (this.cursors.length > 1) this.cursors.pop();
      await this.loadOrders(false);
    },

    // --- an order -----------------------------------------------------------------------------
    async loadOrder(orderId) {
      this.order = null;
      this.resetAction();
      await this.run(async () => {
        const [order, timeline] = await Promise.all([
          this.api("GET", `/v1/orders/${encodeURIComponent(orderId)}`),
          this.api("GET", `/v1/orders/${encodeURIComponent(orderId)}/timeline`, undefined, { query: { limit: 200 } }),
        ]);
        this.order = order;
        this.timeline = timeline.items;
        document.title = `${order.external_id} · OMS console`;
      });
      if (this.order) await this.loadWorkflow(orderId);
    },
    async loadWorkflow(orderId) {
      try {
        this.workflow = await this.api("GET", `/v1/orders/${encodeURIComponent(orderId)}/workflow`);
        this.workflowSvg = workflowSvg(this.workflow);
      } catch (problem) {
        this.workflow = null;
        this.workflowSvg = "";
        this.problem = problem;
      }
    },
    lineOpen(line) {
      const q = line.quantities;
      return q.ordered - q.shipped - q.cancelled;
    },
    lineReturnable(line) {
      const q = line.quantities;
      return q.shipped - q.return_initiated - q.returned;
    },
    resetAction() {
      this.action = "";
      this.preview = null;
      this.cancelAll = false;
      this.cancelQty = {};
      this.returnQty = {};
      this.form = { reason: "", amount: "", exchangeSku: "", exchangeQty: 1 };
    },
    startAction(kind) {
      this.resetAction();
      this.action = kind;
      this.idempotencyKey = newKey();
      this.$nextTick(() => document.getElementById(`${kind}-form`)?.querySelector("input,select,textarea")?.focus());
    },
    actionRequest() {
      if (this.action === "cancel") {
        const lines = Object.entries(this.cancelQty)
          .filter(([, q]) => Number(q) > 0)
          .map(([line_id, q]) => ({ line_id, quantity: Number(q) }));
        const body = { reason: this.form.reason };
        if (!this.cancelAll) body.lines = lines;
        return { path: "cancel", body };
      }
      if (this.action === "return") {
        const lines = Object.entries(this.returnQty)
          .filter(([, q]) => Number(q) > 0)
          .map(([line_id, q]) => ({ line_id, quantity: Number(q), reason: this.form.reason }));
        const body = { lines };
        if (this.form.exchangeSku) body.exchange = [{ sku: this.form.exchangeSku.trim(), quantity: Number(this.form.exchangeQty) }];
        return { path: "returns", body };
      }
      const body = { amount: Math.round(Number(this.form.amount) * 100), reason: this.form.reason };
      return { path: "adjustments", body };
    },
    async previewAction() {
      const { path, body } = this.actionRequest();
      const result = await this.run(() =>
        this.api("POST", `/v1/orders/${encodeURIComponent(this.order.order_id)}/${path}`, body, { query: { preview: "true" } })
      );
      if (result) {
        this.preview = result;
        this.$nextTick(() => document.getElementById("confirm-action")?.focus());
      }
    },
    async confirmAction() {
      const { path, body } = this.actionRequest();
      const done = await this.run(() =>
        this.api("POST", `/v1/orders/${encodeURIComponent(this.order.order_id)}/${path}`, body, { idempotencyKey: this.idempotencyKey })
      );
      if (done) {
        const what = { cancel: "Cancellation", return: "Return", appease: "Appeasement" }[this.action];
        const orderId = this.order.order_id;
        await this.loadOrder(orderId);
        this.notice = `${what} submitted.`;
      }
    },

    // --- customer 360 -------------------------------------------------------------------------------
    async loadCustomer(customerId) {
      this.customer = null;
      const view = await this.run(() => this.api("GET", `/v1/customers/${encodeURIComponent(customerId)}`));
      if (view) this.customer = view;
    },

    // --- operations ----------------------------------------------------------------------------------
    async loadOperations() {
      await this.run(async () => {
        const before = new Date(Date.now() - this.stuckHours * 3600000).toISOString();
        const [exceptions, backordered, stuck] = await Promise.all([
          this.api("GET", "/v1/exceptions", undefined, { query: { status: "open", limit: 100 } }),
          this.api("GET", "/v1/orders", undefined, { query: { fulfillment_status: "backordered", limit: 50 } }),
          this.api("GET", "/v1/orders", undefined, { query: { status: "open", updated_before: before, limit: 50 } }),
        ]);
        this.exceptions = exceptions.items;
        this.backordered = backordered.items;
        this.stuck = stuck.items;
      });
    },
    async exceptionAction(exception, verb) {
      const note = this.exceptionNote[exception.exc_id] || "";
      const done = await this.run(() =>
        this.api("POST", `/v1/exceptions/${encodeURIComponent(exception.exc_id)}/${verb}`, { note })
      );
      if (done) {
        this.notice = `Exception ${exception.exc_id} ${done.status}.`;
        await this.loadOperations();
        this.notice = `Exception ${exception.exc_id} ${done.status}.`;
      }
    },

    // --- reports ----------------------------------------------------------------------------------
    async loadReports() {
      this.reportsReady = false;
      await this.run(async () => {
        const query = { from: this.range.from, to: this.range.to };
        const [summary, daily, orders] = await Promise.all([
          this.api("GET", "/v1/reports/summary", undefined, { query }),
          this.api("GET", "/v1/reports/daily", undefined, { query }),
          this.api("GET", "/v1/reports/export", undefined, { query: { ...query, kind: "orders" }, raw: true }),
        ]);
        this.summary = summary;
        this.daily = daily.items || [];
        this.funnel = funnelOf(orders);
      });
      await this.loadStock();
      await this.loadForecast();
      this.$nextTick(() => {
        this.drawReports();
        this.reportsReady = !!this.summary;
      });
    },
    async loadStock() {
      const sku = this.stockSku.trim();
      if (!sku) return;
      const found = await this.run(() => this.api("GET", "/v1/availability", undefined, { query: { sku } }));
      if (found) {
        this.stock = (found.items || found.skus || []).find((s) => s.sku === sku) || null;
        this.$nextTick(() => this.drawStock());
      }
    },
    async loadForecast() {
      const sku = this.forecastSku.trim();
      if (!sku) return;
      const found = await this.run(() => this.api("GET", "/v1/forecast", undefined, { query: { sku, days: 28 } }));
      if (found) {
        this.forecast = found;
        this.$nextTick(() => this.drawForecast());
      }
    },
    chart(id, config) {
      const canvas = document.getElementById(id);
      if (!canvas || typeof Chart === "undefined") return;
      this.charts[id]?.destroy();
      config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...(config.options || {}) };
      this.charts[id] = new Chart(canvas, config);
    },
    drawReports() {
      const s = this.summary;
      if (!s) return;
      // The funnel counts orders of the range by how far each got (the orders export: one row per order).
      const f = this.funnel;
      this.chart("chart-funnel", {
        type: "bar",
        data: {
          labels: ["placed", "not cancelled", "shipped", "completed"],
          datasets: [{ label: "orders", data: [f.placed, f.kept, f.shipped, f.completed], backgroundColor: "#1f5fbf" }],
        },
        options: { indexAxis: "y", plugins: { legend: { display: false } } },
      });
      const days = this.daily.map((d) => d.date);
      this.chart("chart-ship", {
        type: "line",
        data: {
          labels: days,
          datasets: [
            { label: "time to ship p50 (h)", data: this.daily.map((d) => (d.time_to_ship?.p50 ?? null) && d.time_to_ship.p50 / 3600), borderColor: "#1f5fbf", spanGaps: true },
            { label: "time to ship p90 (h)", data: this.daily.map((d) => (d.time_to_ship?.p90 ?? null) && d.time_to_ship.p90 / 3600), borderColor: "#a35a00", spanGaps: true },
          ],
        },
      });
      this.chart("chart-rates", {
        type: "line",
        data: {
          labels: days,
          datasets: [
            { label: "fill rate", data: this.daily.map((d) => d.fill_rate), borderColor: "#1d7a46" },
            { label: "split rate", data: this.daily.map((d) => d.split_rate), borderColor: "#b3261e" },
          ],
        },
        options: { scales: { y: { min: 0, max: 1 } } },
      });
    },
    drawStock() {
      const locations = this.stock?.locations || [];
      this.chart("chart-stock", {
        type: "bar",
        data: {
          labels: locations.map((l) => l.location_id),
          datasets: [
            { label: "available", data: locations.map((l) => l.available), backgroundColor: "#1d7a46" },
            { label: "reserved", data: locations.map((l) => l.reserved), backgroundColor: "#a35a00" },
            { label: "safety stock", data: locations.map((l) => l.safety_stock), backgroundColor: "#98a2b3" },
          ],
        },
        options: { scales: { x: { stacked: true }, y: { stacked: true } } },
      });
    },
    drawForecast() {
      const f = this.forecast;
      if (!f) return;
      const labels = f.daily.map((d) => d.date);
      this.chart("chart-forecast", {
        type: "line",
        data: {
          labels,
          datasets: [
            { label: "upper (80 %)", data: f.daily.map((d) => d.upper), borderColor: "rgba(31,95,191,.3)", backgroundColor: "rgba(31,95,191,.12)", fill: "+1", pointRadius: 0 },
            { label: "lower (80 %)", data: f.daily.map((d) => d.lower), borderColor: "rgba(31,95,191,.3)", pointRadius: 0 },
            { label: "mean daily demand", data: f.daily.map((d) => d.mean), borderColor: "#1f5fbf" },
            // Units, not units a day: the stock position against the reorder point, on the right axis.
            { label: "reorder point (units)", data: labels.map(() => f.reorder.reorder_point), borderColor: "#b3261e", borderDash: [6, 4], pointRadius: 0, yAxisID: "units" },
            { label: "position (units)", data: labels.map(() => (f.reorder.on_hand ?? 0) - (f.reorder.reserved ?? 0)), borderColor: "#1d7a46", borderDash: [2, 3], pointRadius: 0, yAxisID: "units" },
          ],
        },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: "units a day" } }, units: { position: "right", beginAtZero: true, title: { display: true, text: "units" }, grid: { drawOnChartArea: false } } } },
      });
    },

    // --- warehouse ----------------------------------------------------------------------------------
    async loadWarehouse() {
      if (!this.locations.length) {
        if (this.me.role === "wms") {
          this.locations = this.me.locations;
        } else {
          const found = await this.run(() => this.api("GET", "/v1/locations"));
          this.locations = (found?.items || []).map((l) => l.location_id);
        }
      }
      if (!this.location && this.locations.length) this.location = this.locations[0];
      await this.loadFulfillmentOrders();
    },
    async loadFulfillmentOrders() {
      if (!this.location) return;
      const page = await this.run(() =>
        this.api("GET", "/v1/fulfillment-orders", undefined, { query: { location_id: this.location, status: this.foStatus, limit: 100 } })
      );
      if (page) this.fulfillmentOrders = page.items;
    },
    nextStep(fo) {
      return FO_NEXT_STEP[fo.status] || "";
    },
    async foStep(fo, step) {
      let body = {};
      if (step === "ship") {
        const form = this.shipForm[fo.fo_id] || {};
        body = { carrier: (form.carrier || "").trim(), tracking_number: (form.tracking || "").trim() };
      }
      const done = await this.run(() =>
        this.api("POST", `/v1/fulfillment-orders/${encodeURIComponent(fo.fo_id)}/${step}`, body, { idempotencyKey: newKey() })
      );
      if (done) {
        await this.loadFulfillmentOrders();
        this.notice = `${fo.fo_id}: ${step} done.`;
      }
    },
    async showPickList(fo) {
      const html = await this.run(() =>
        this.api("GET", `/v1/fulfillment-orders/${encodeURIComponent(fo.fo_id)}/pick-list`, undefined, { query: { format: "html" }, raw: true })
      );
      if (html !== undefined) {
        this.pickList = html;
        this.pickListFo = fo.fo_id;
      }
    },
    printPickList() {
      document.getElementById("picklist-frame")?.contentWindow?.print();
    },
  }));
});
