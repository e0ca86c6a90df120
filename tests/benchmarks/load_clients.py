"""The benchmarks' clients: channels capturing orders, a WMS working its fulfillment orders
and a carrier reporting deliveries, all over the HTTP API, as real clients would.

The lifecycle's WMS (``NotifiedWarehouse``) hears of each fulfillment order from the OMS's
outbound webhook, as an integration that wants no lag does, so the runs carry that path's
load and report its delay. Polling its work list once a second instead, it sat idle for up
to a second at a run's start, however its sleep fell, and its pickers worked each list to
its end before reading the next.

``Clients`` runs them in a process of their own, as a load generator runs apart from the
system it loads. In the emulator's process their HTTP (the ``requests`` library, about a
millisecond of CPU a request) took the emulator's one interpreter from the stack: the 32
client threads of a burst of captures competed with the API and the AWS requests the
captures made.

Their HTTP is the standard library's (``Http``): a keep-alive connection per thread, as
``requests`` kept, at 0.45 ms of CPU a request against its 1.2 ms. The clients still share
the machine's two cores with the stack. The WMS's picker sends its five requests an order
one after another, but what bounds even the one-client run is the CPU an order, not that
chain (docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import multiprocessing
import queue
import select
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlencode, urlsplit

from standardwebhooks import Webhook, WebhookVerificationError

from demo.samples import CHANNEL_KEYS
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS

LOCATION = "wh-east"  # one of the locations the development WMS key is bound to
WMS = {"x-api-key": "dev-wms-key"}
OPS = {"x-api-key": "dev-ops-key"}


class Answer:
    """An HTTP answer: its status and body."""

    def __init__(self, status: int, body: bytes):
        self.status_code, self.content = status, body

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Http:
    """Requests to the API over one keep-alive connection per thread."""

    def __init__(self, api_url: str, timeout: float = 60):
        url = urlsplit(api_url)
        self.host, self.port, self.prefix = url.hostname or "127.0.0.1", url.port, url.path.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self.answered = 0  # requests answered, all threads

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        # An idle connection with something to read was closed by the server: open another,
        # as urllib3 does before reusing a pooled one (never resending a request).
        if connection is not None and connection.sock is not None and select.select([connection.sock], [], [], 0)[0]:
            connection.close()
            connection = None
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return connection

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        target = self.prefix + path + (f"?{urlencode(params)}" if params else "")
        connection = self._connection()
        try:
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            answer = Answer(response.status, response.read())
        except Exception:
            connection.close()
            self._local.connection = None
            raise
        with self._lock:
            self.answered += 1
        return answer

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        return self.request("POST", path, json_body=body, headers=headers)


def carrier_delivered(tracking_number: str, event_id: str) -> tuple[bytes, dict[str, str]]:
    """A generic-format carrier event, signed as docs/carrier-tracking.md describes."""
    body = json.dumps(
        {
            "event_id": event_id,
            "tracking_number": tracking_number,
            "status": "delivered",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    ).encode()
    digest = hmac.new(DEV_WEBHOOK_SECRETS["generic"].encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-OMS-Signature": f"sha256={digest}", "Content-Type": "application/json"}


class Warehouse:
    """Works every fulfillment order of its location: accept, pick, pack, ship; the carrier delivers."""

    def __init__(self, api_url: str, pickers: int = 1):
        self.api_url = api_url
        self.pickers = pickers
        self.http = Http(api_url)
        self.shipped: dict[str, float] = {}
        self.stop = threading.Event()
        self.errors: list[str] = []

    def _post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        response = self.http.post(path, body or {}, headers or WMS)
        if response.status_code >= 300:
            self.errors.append(f"{path}: {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    def work(self, fo: dict[str, Any]) -> None:
        fo_id = fo["fo_id"]
        for step in ("accept", "pick", "pack"):
            self._post(f"/v1/fulfillment-orders/{fo_id}/{step}")
        tracking = f"BENCH{fo_id[-12:].upper()}"
        if self._post(f"/v1/fulfillment-orders/{fo_id}/ship", {"carrier": "generic", "tracking_number": tracking}):
            body, headers = carrier_delivered(tracking, f"evt-{fo_id}")
            response = self.http.request("POST", "/v1/webhooks/carriers/generic", data=body, headers=headers)
            if response.status_code >= 300:
                self.errors.append(f"carrier: {response.status_code} {response.text[:200]}")
            self.shipped[fo["order_id"]] = time.perf_counter()

    def work_list(self) -> list[dict[str, Any]]:
        """The location's fulfillment orders waiting to be accepted."""
        page = self.http.request(
            "GET",
            "/v1/fulfillment-orders",
            params={"location_id": LOCATION, "status": "allocated", "limit": 200},
            headers=WMS,
        ).json()
        return list(page.get("items", []))

    def work_once(self) -> int:
        items = self.work_list()
        with ThreadPoolExecutor(self.pickers) as pool:
            list(pool.map(self.work, items))
        return len(items)

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.work_once():
                time.sleep(1.0)  # an idle WMS polls its work list once a second


class NotifiedWarehouse(Warehouse):
    """The WMS told of each fulfillment order as it is released, by a subscription to the
    outbound webhook ``fulfillment.released`` (docs/api.md), every delivery verified with the
    Standard Webhooks reference library. A second without one, it reads its work list for
    any it missed, as such an integration reconciles: an order is worked once either way."""

    def __init__(self, api_url: str, pickers: int = 1):
        super().__init__(api_url, pickers)
        self.to_work: queue.Queue[dict[str, Any]] = queue.Queue()
        self.taken: set[str] = set()
        self.reconciled = 0  # fulfillment orders the work list brought, not a webhook
        self.notice_delays: list[float] = []  # seconds from release to the webhook's arrival
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True, name="wms-webhooks").start()
        url = f"http://127.0.0.1:{self._server.server_port}/oms-webhooks"
        response = self.http.post("/v1/webhooks/subscriptions", {"url": url, "events": ["fulfillment.released"]}, OPS)
        if response.status_code >= 300:
            raise RuntimeError(f"subscribing failed: {response.status_code} {response.text[:200]}")
        created = response.json()
        self.subscription_id, self.webhook = created["subscription_id"], Webhook(created["secret"])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        warehouse = self

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(warehouse.notified(body, dict(self.headers.items())))
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Receive

    def notified(self, body: bytes, headers: dict[str, str]) -> int:
        """The status a delivery is answered with: 401 for one not signed with our secret."""
        try:
            message = self.webhook.verify(body, headers)
        except WebhookVerificationError:
            return 401
        data = message["data"]
        self.notice_delays.append(time.time() - datetime.fromisoformat(data["at"]).timestamp())
        if data.get("location_id") == LOCATION:
            self._take({"fo_id": data["fo_id"], "order_id": data["order_id"]})
        return 204  # a redelivery of one already taken is acknowledged too

    def _take(self, fo: dict[str, Any]) -> bool:
        with self._lock:
            if fo["fo_id"] in self.taken:
                return False
            self.taken.add(fo["fo_id"])
        self.to_work.put(fo)
        return True

    def run(self) -> None:
        with ThreadPoolExecutor(self.pickers) as pool:
            while not self.stop.is_set():
                try:
                    fo = self.to_work.get(timeout=1.0)
                except queue.Empty:
                    if not self.stop.is_set():  # stopped while it waited: the API may be gone
                        self.reconciled += sum(self._take(fo) for fo in self.work_list())
                    continue
                pool.submit(self._work_reporting, fo)

    def _work_reporting(self, fo: dict[str, Any]) -> None:
        """``work``, its failure kept with the errors the run reports (a pool's task would drop it)."""
        try:
            self.work(fo)
        except Exception as exc:
            self.errors.append(f"{fo['fo_id']}: {type(exc).__name__}: {exc}"[:300])

    def close(self) -> None:
        self._server.shutdown()
        self.http.request("DELETE", f"/v1/webhooks/subscriptions/{self.subscription_id}", headers=OPS)

    def notices(self) -> dict[str, Any]:
        delays = sorted(self.notice_delays)
        return {
            "webhooks": len(delays),
            "reconciled_from_the_work_list": self.reconciled,
            "webhook_delay_ms_p50": delays[len(delays) // 2] * 1000 if delays else None,
            "webhook_delay_ms_p99": delays[round(0.99 * (len(delays) - 1))] * 1000 if delays else None,
        }


def capture(
    api_url: str, bodies: list[dict[str, Any]], clients: int, latencies: list[float] | None = None
) -> dict[str, float]:
    """Capture ``bodies`` from ``clients`` concurrent channels: each order's id and when it was created."""
    http = Http(api_url)
    created: dict[str, float] = {}

    def post(body: dict[str, Any]) -> None:
        started = time.perf_counter()
        response = http.post("/v1/orders", body, {"x-api-key": CHANNEL_KEYS[body["channel"]]})
        if latencies is not None:
            latencies.append(time.perf_counter() - started)
        if response.status_code != 201:
            raise RuntimeError(f"capture failed: {response.status_code} {response.text[:200]}")
        created[response.json()["order_id"]] = time.perf_counter()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, bodies))
    return created


def _serve(conn: Connection, api_url: str, pickers: int) -> None:
    """The clients' process: the WMS works throughout; captures run when asked."""
    warehouse = NotifiedWarehouse(api_url, pickers=pickers)
    worker = threading.Thread(target=warehouse.run, daemon=True)
    worker.start()
    while True:
        command, *args = conn.recv()
        if command == "capture":
            latencies: list[float] = []
            try:
                conn.send(("ok", capture(api_url, args[0], args[1], latencies), latencies))
            except Exception as exc:  # the bench reports it; the process goes on serving
                conn.send(("error", str(exc), []))
        elif command == "cpu":
            conn.send(time.process_time())
        elif command == "stop":
            warehouse.stop.set()
            worker.join(timeout=30)
            warehouse.close()
            conn.send((warehouse.shipped, warehouse.errors, warehouse.notices(), time.process_time()))
            return


class Clients:
    """The clients in a process of their own (``_serve``). Times are ``time.perf_counter``
    readings, which every process of the machine reads from the same clock."""

    def __init__(self, api_url: str, pickers: int):
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, api_url, pickers), daemon=True, name="bench-clients"
        )
        self._process.start()
        child.close()

    def capture(self, bodies: list[dict[str, Any]], clients: int) -> tuple[dict[str, float], list[float]]:
        """Each created order's id with when it was created, and each capture's latency (seconds)."""
        self._conn.send(("capture", bodies, clients))
        status, result, latencies = self._conn.recv()
        if status != "ok":
            raise RuntimeError(result)  # the clients' error message
        return result, latencies

    def cpu_seconds(self) -> float:
        self._conn.send(("cpu",))
        return float(self._conn.recv())

    def stop(self) -> tuple[dict[str, float], list[str], dict[str, Any], float]:
        """What the WMS shipped (order id: when), its errors, how it heard of its work
        (``NotifiedWarehouse.notices``), and the process's CPU seconds."""
        self._conn.send(("stop",))
        shipped, errors, notices, cpu = self._conn.recv()
        self._process.join(timeout=30)
        return shipped, errors, notices, cpu

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._conn.close()
