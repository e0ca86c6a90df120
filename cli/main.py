"""``oms``: operators' commands over the public HTTP API (docs/cli.md).

Every command is one or a few API requests with the caller's key: the tool sees exactly
what the key's role may see, nothing more. Tables for people, ``--json`` for scripts (the
API's own documents). Exit codes: 0 done, 1 the API refused (its problem+json is printed),
2 bad usage, 3 the API could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from cli.http import ApiError, Client, Unreachable
from cli.tables import cell, money, pairs, table

DEFAULT_API_URL = "http://127.0.0.1:3000"
API_URL_ENV = "OMS_API_URL"
API_KEY_ENV = "OMS_API_KEY"

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

Command = Callable[[Client, argparse.Namespace], tuple[Any, str]]


# Orders


def orders_get(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    order = client.get(f"/v1/orders/{args.order_id}")
    currency = order["currency"]
    head = pairs(
        [
            ("order", order["order_id"]),
            ("channel", f"{order['channel']} {order['external_id']}"),
            ("customer", order["customer_id"]),
            ("status", order["status"]),
            ("fulfillment", order["fulfillment_status"]),
            ("payment", order["payment_status"]),
            ("workflow", order["workflow"]["status"]),
            ("total", money(order["totals"]["total"], currency)),
            ("current total", money(order["current_totals"].get("total"), currency)),
            ("created", order["created_at"]),
        ]
    )
    lines = table(
        [
            [
                line["line_id"],
                line["sku"],
                line["quantity"],
                line["quantities"]["allocated"],
                line["quantities"]["shipped"],
                line["quantities"]["cancelled"],
                line["quantities"]["returned"],
                money(line["total"]),
                line["status"],
            ]
            for line in order["lines"]
        ],
        ["line", "sku", "qty", "alloc", "shipped", "cancel", "returned", "total", "status"],
    )
    parts = [head, "", lines]
    if order["fulfillment_orders"]:
        fos = [[f.get("fo_id"), f.get("location_id"), f.get("status")] for f in order["fulfillment_orders"]]
        parts += ["", table(fos, ["fulfillment order", "location", "status"])]
    if order["shipments"]:
        shipments = [
            [s.get("shipment_id"), s.get("carrier"), s.get("tracking_number"), s.get("status")]
            for s in order["shipments"]
        ]
        parts += ["", table(shipments, ["shipment", "carrier", "tracking", "status"])]
    summary = order["payment_summary"]
    parts += [
        "",
        "payments  " + "  ".join(f"{k}={money(summary[k])}" for k in ("authorized", "captured", "refunded", "balance")),
    ]
    return order, "\n".join(parts)


def _order_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            o["order_id"],
            o["channel"],
            o["external_id"],
            o["status"],
            o["fulfillment_status"],
            o["payment_status"],
            money(o["totals"]["total"], o["currency"]),
            o["created_at"],
        ]
        for o in items
    ]


ORDER_HEADERS = ["order", "channel", "external id", "status", "fulfillment", "payment", "total", "created"]


def orders_list(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    query = {
        "channel": args.channel,
        "customer_id": args.customer_id,
        "status": args.status,
        "created_after": args.created_after,
        "created_before": args.created_before,
        "limit": args.limit,
        "cursor": args.cursor,
    }
    page = client.get("/v1/orders", **query)
    text = table(_order_rows(page["items"]), ORDER_HEADERS)
    if page.get("next_cursor"):
        text += f"\nmore: --cursor {page['next_cursor']}"
    return page, text


def search(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    found = client.get("/v1/search", q=args.query)
    rows = [
        [
            hit["kind"],
            hit.get("order_id") or hit.get("customer_id"),
            hit.get("matched"),
            hit.get("external_id") or hit.get("email"),
            hit.get("status") or hit.get("name"),
        ]
        for hit in found["items"]
    ]
    return found, table(rows, ["kind", "id", "matched", "external id / e-mail", "status / name"])


def timeline(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(f"/v1/orders/{args.order_id}/timeline", limit=200, cursor=cursor)
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    rows = [[e["at"], e["kind"], e.get("actor") or e["detail"].get("actor"), _brief(e["detail"])] for e in items]
    return {"items": items}, table(rows, ["at", "event", "actor", "detail"])


def _brief(detail: dict[str, Any], width: int = 70) -> str:
    text = ", ".join(f"{k}={cell(v)}" for k, v in detail.items() if k != "actor")
    return text if len(text) <= width else text[: width - 1] + "…"


# Process exceptions


EXCEPTION_HEADERS = ["exception", "order", "step", "error", "status", "created"]


def _exception_row(e: dict[str, Any]) -> list[Any]:
    return [e["exc_id"], e["order_id"], e["step"], e["error"], e["status"], e["created_at"]]


def exceptions_list(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    page = client.get("/v1/exceptions", status=args.status, limit=args.limit, cursor=args.cursor)
    text = table([_exception_row(e) for e in page["items"]], EXCEPTION_HEADERS)
    if page.get("next_cursor"):
        text += f"\nmore: --cursor {page['next_cursor']}"
    return page, text


def _exception_action(action: str) -> Command:
    def run(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
        body = {"note": args.note} if args.note else {}
        _, view = client.request("POST", f"/v1/exceptions/{args.exc_id}/{action}", body=body)
        return view, table([_exception_row(view)], EXCEPTION_HEADERS)

    return run


# Stock


def stock_get(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    found = client.get("/v1/availability", sku=args.sku, location_id=args.location)
    rows = [
        [s["sku"], loc["location_id"], loc["on_hand"], loc["reserved"], loc["safety_stock"], loc["available"]]
        for s in found["items"]
        for loc in s["locations"]
    ]
    text = table(rows, ["sku", "location", "on hand", "reserved", "safety", "available"])
    promise = ", ".join(f"{s['sku']}={s['available_to_promise']}" for s in found["items"])
    return found, f"{text}\navailable to promise: {promise}"


def stock_set(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    body: dict[str, Any] = {"on_hand": args.on_hand, "as_of": args.as_of or datetime.now(UTC).isoformat()}
    if args.safety_stock is not None:
        body["safety_stock"] = args.safety_stock
    _, view = client.request("PUT", f"/v1/inventory/{args.location_id}/{args.sku}", body=body)
    text = table(
        [
            [
                view["sku"],
                view["location_id"],
                view["on_hand"],
                view["reserved"],
                view["safety_stock"],
                view["available"],
            ]
        ],
        ["sku", "location", "on hand", "reserved", "safety", "available"],
    )
    if not view.get("applied", True):
        text += f"\nnot applied: the stored count is newer (as_of {view['as_of']})"
    return view, text


# Reports


def _range(args: argparse.Namespace) -> dict[str, Any]:
    return {"from": args.from_, "to": args.to, "channel": args.channel, "location_id": args.location}


SUMMARY_FIGURES = (
    "orders",
    "units",
    "gmv",
    "aov",
    "fill_rate",
    "split_rate",
    "backorder_rate",
    "cancel_rate",
    "return_rate",
    "on_time_ship_rate",
    "stock_outs",
)


def _figure(name: str, value: Any) -> str:
    if name in ("gmv", "aov") and isinstance(value, dict):
        return ", ".join(money(int(v), c) for c, v in value.items()) or "-"
    return cell(value)


def reports_summary(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    found = client.get("/v1/reports/summary", **_range(args))
    rows: list[tuple[str, Any]] = [(name, _figure(name, found.get(name))) for name in SUMMARY_FIGURES]
    for span in ("time_to_ship", "time_to_delivery"):
        value = found.get(span) or {}
        rows.append((span, f"p50 {_duration(value.get('p50'))}, p90 {_duration(value.get('p90'))}"))
    return found, f"{found['from']} .. {found['to']}\n" + pairs(rows)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"


def reports_daily(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    found = client.get("/v1/reports/daily", **_range(args))
    rows = [
        [d["date"], d["orders"], d["units"], _figure("gmv", d["gmv"]), d["fill_rate"], d["cancel_rate"]]
        for d in found["items"]
    ]
    return found, table(rows, ["date", "orders", "units", "gmv", "fill rate", "cancel rate"])


def reports_export(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    _, csv_text = client.request(
        "GET", "/v1/reports/export", query={"kind": args.kind, "from": args.from_, "to": args.to}
    )
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            out.write(csv_text)
        rows = max(0, csv_text.count("\n") - 1)
        return {"kind": args.kind, "rows": rows, "file": args.output}, f"{rows} rows written to {args.output}"
    return {"kind": args.kind, "csv": csv_text}, csv_text.rstrip("\n")


def forecast(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    query = {
        "sku": args.sku,
        "location_id": args.location,
        "days": args.days,
        "lead_time_days": args.lead_time_days,
        "service_level": args.service_level,
    }
    found = client.get("/v1/forecast", **query)
    reorder = found["reorder"]
    head = pairs(
        [
            ("sku", found["sku"]),
            ("location", found.get("location_id") or "all"),
            ("method", found["method"]),
            ("history days", found.get("history_days")),
            ("computed", f"{found.get('computed_at')} ({found.get('source')})"),
            ("reorder point", reorder["reorder_point"]),
            ("safety stock", reorder.get("safety_stock")),
            ("on hand / reserved", f"{reorder.get('on_hand')} / {reorder.get('reserved')}"),
            ("suggested order", reorder["suggested_quantity"]),
            ("lead time, service", f"{reorder['lead_time_days']} days, {reorder['service_level']}"),
        ]
    )
    rows = [[d["date"], d["mean"], d.get("median"), d["lower"], d["upper"]] for d in found["daily"]]
    return found, head + "\n\n" + table(rows, ["date", "mean", "median", "lower 10%", "upper 90%"])


# Customers


def customers_get(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    view = client.get(f"/v1/customers/{args.customer_id}")
    profile = view.get("profile") or {}
    lifetime = view.get("lifetime") or {}
    currency = lifetime.get("currency", "")
    rows: list[tuple[str, Any]] = [
        ("customer", profile.get("customer_id", args.customer_id)),
        ("name", profile.get("name")),
        ("e-mail", profile.get("email")),
        ("segment", view.get("segment")),
    ]
    for name in ("orders", "units", "ordered", "cancelled", "captured", "refunded", "net", "average_order_value"):
        value = lifetime.get(name)
        is_money = name not in ("orders", "units")
        rows.append((name, money(value, currency) if is_money else value))
    rows += [("return rate", lifetime.get("return_rate")), ("last order", lifetime.get("last_order_at"))]
    open_orders = [
        [o.get("order_id"), o.get("status"), o.get("fulfillment_status")] for o in view.get("open_orders", [])
    ]
    text = pairs(rows)
    if open_orders:
        text += "\n\n" + table(open_orders, ["open order", "status", "fulfillment"])
    return view, text


def customers_find(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    page = client.get("/v1/customers", email=args.email, phone=args.phone, name=args.name)
    rows = [[c.get("customer_id"), c.get("name"), c.get("email"), c.get("phone")] for c in page["items"]]
    return page, table(rows, ["customer", "name", "e-mail", "phone"])


# The command line


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="oms", description="Operate the OMS through its public HTTP API.")
    top.add_argument("--api-url", help=f"the API's base URL (env {API_URL_ENV}; default {DEFAULT_API_URL})")
    top.add_argument("--api-key", help=f"the caller's x-api-key (env {API_KEY_ENV})")
    top.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    top.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an answer (default 30)")
    groups = top.add_subparsers(dest="group", required=True, metavar="command")

    def command(
        parent: Any, name: str, run: Command, help_text: str, *arguments: tuple[Sequence[str], dict[str, Any]]
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        for flags, options in arguments:
            sub.add_argument(*flags, **options)
        sub.set_defaults(run=run)
        return sub

    page_args: tuple[tuple[Sequence[str], dict[str, Any]], ...] = (
        (["--limit"], {"type": int, "default": 50, "help": "rows per page (max 200)"}),
        (["--cursor"], {"help": "the next page's cursor, as the previous page printed it"}),
    )
    range_args: tuple[tuple[Sequence[str], dict[str, Any]], ...] = (
        (["--from"], {"dest": "from_", "required": True, "metavar": "YYYY-MM-DD"}),
        (["--to"], {"required": True, "metavar": "YYYY-MM-DD"}),
        (["--channel"], {}),
        (["--location"], {"help": "a location id"}),
    )

    orders = groups.add_parser("orders", help="orders: get, list, search, timeline").add_subparsers(
        dest="command", required=True, metavar="action"
    )
    command(orders, "get", orders_get, "one order: lines with their buckets, shipments, payments", (["order_id"], {}))
    command(
        orders,
        "list",
        orders_list,
        "a page of orders, newest first",
        (["--channel"], {}),
        (["--customer-id"], {}),
        (["--status"], {}),
        (["--created-after"], {"metavar": "ISO-8601"}),
        (["--created-before"], {"metavar": "ISO-8601"}),
        *page_args,
    )
    command(
        orders,
        "search",
        search,
        "orders and customers by order id, external id, e-mail, phone, name prefix or tracking number",
        (["query"], {}),
    )
    command(orders, "timeline", timeline, "every change to an order, oldest first", (["order_id"], {}))
    command(groups, "timeline", timeline, "every change to an order, oldest first", (["order_id"], {}))

    exceptions = groups.add_parser("exceptions", help="process exceptions: list, retry, resolve").add_subparsers(
        dest="command", required=True, metavar="action"
    )
    command(
        exceptions,
        "list",
        exceptions_list,
        "process exceptions",
        (["--status"], {"default": "open", "help": "open (default), retried or resolved"}),
        *page_args,
    )
    note = (["--note"], {"default": "", "help": "why, kept on the exception"})
    command(exceptions, "retry", _exception_action("retry"), "run the failed step's way back", (["exc_id"], {}), note)
    command(exceptions, "resolve", _exception_action("resolve"), "close it as resolved by hand", (["exc_id"], {}), note)

    stock = groups.add_parser("stock", help="stock: get, set").add_subparsers(
        dest="command", required=True, metavar="action"
    )
    command(
        stock,
        "get",
        stock_get,
        "on hand, reserved, safety stock and available per location",
        (["sku"], {"nargs": "+"}),
        (["--location"], {"action": "append", "help": "only this location (repeat for several)"}),
    )
    command(
        stock,
        "set",
        stock_set,
        "absolute stock count of a SKU at a location",
        (["location_id"], {}),
        (["sku"], {}),
        (["on_hand"], {"type": int}),
        (["--safety-stock"], {"type": int}),
        (["--as-of"], {"metavar": "ISO-8601", "help": "when the count was taken (default now)"}),
    )

    reports = groups.add_parser("reports", help="reports: summary, daily, export, forecast").add_subparsers(
        dest="command", required=True, metavar="action"
    )
    command(reports, "summary", reports_summary, "order figures over a range of days", *range_args)
    command(reports, "daily", reports_daily, "order figures per day", *range_args)
    command(
        reports,
        "export",
        reports_export,
        "orders, lines, invoices or credit memos as CSV",
        (["kind"], {"choices": ["orders", "lines", "invoices", "credit_memos"]}),
        *range_args[:2],
        (["-o", "--output"], {"help": "write the CSV to this file"}),
    )
    forecast_args: tuple[tuple[Sequence[str], dict[str, Any]], ...] = (
        (["sku"], {}),
        (["--location"], {"help": "a location id (default: every location's stock)"}),
        (["--days"], {"type": int, "default": 14}),
        (["--lead-time-days"], {"type": int, "default": 7}),
        (["--service-level"], {"type": float, "default": 0.95}),
    )
    command(reports, "forecast", forecast, "a SKU's daily demand forecast and reorder suggestion", *forecast_args)
    command(groups, "forecast", forecast, "a SKU's daily demand forecast and reorder suggestion", *forecast_args)

    customers = groups.add_parser("customers", help="customers: get, find").add_subparsers(
        dest="command", required=True, metavar="action"
    )
    command(customers, "get", customers_get, "the customer's 360° view", (["customer_id"], {}))
    command(
        customers,
        "find",
        customers_find,
        "customers by e-mail, phone or name prefix",
        (["--email"], {}),
        (["--phone"], {}),
        (["--name"], {}),
    )
    return top


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = parser().parse_args(argv)
    except SystemExit as stopped:  # argparse has printed the usage error (or the help)
        return int(stopped.code or 0)
    api_key = args.api_key or os.environ.get(API_KEY_ENV)
    if not api_key:
        print(f"error: no API key: pass --api-key or set {API_KEY_ENV}", file=err)
        return EXIT_USAGE
    client = Client(args.api_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL, api_key, timeout=args.timeout)
    try:
        document, text = args.run(client, args)
    except ApiError as failed:
        if args.json:
            print(json.dumps(failed.problem, indent=2), file=err)
        else:
            print("\n".join(failed.lines()), file=err)
        return EXIT_API_ERROR
    except Unreachable as failed:
        print(f"error: {failed}", file=err)
        return EXIT_UNREACHABLE
    print(json.dumps(document, indent=2) if args.json else text, file=out)
    return EXIT_OK
