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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any

import requests
from standardwebhooks import Webhook, WebhookVerificationError

from demo.samples import CHANNEL_KEYS
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS

LOCATION = "wh-east"  # one of the locations the development WMS key is bound to
WMS = {"x-api-key": "dev-wms-key"}
OPS = {"x-api-key": "dev-ops-key"}


def _session() -> requests.Session:
    session = requests.Session()
    # The stack is local: no proxy settings to read from the environment on every request.
    session.trust_env = False
    return session


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
        self.http = _session()
        self.shipped: dict[str, float] = {}
        self.stop = threading.Event()
        self.errors: list[str] = []

    def _post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        response = self.http.post(self.api_url + path, json=body or {}, headers=headers or WMS, timeout=60)
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
            response = self.http.post(
                f"{self.api_url}/v1/webhooks/carriers/generic", data=body, headers=headers, timeout=60
            )
            if response.status_code >= 300:
                self.errors.append(f"carrier: {response.status_code} {response.text[:200]}")
            self.shipped[fo["order_id"]] = time.perf_counter()

    def work_list(self) -> list[dict[str, Any]]:
        """The location's fulfillment orders waiting to be accepted."""
        page = self.http.get(
            f"{self.api_url}/v1/fulfillment-orders",
            params={"location_id": LOCATION, "status": "allocated", "limit": 200},
            headers=WMS,
            timeout=60,
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
        response = self.http.post(
            f"{api_url}/v1/webhooks/subscriptions",
            json={"url": url, "events": ["fulfillment.released"]},
            headers=OPS,
            timeout=60,
        )
        response.raise_for_status()
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
        self.http.delete(f"{self.api_url}/v1/webhooks/subscriptions/{self.subscription_id}", headers=OPS, timeout=60)

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
    local: dict[int, requests.Session] = {}
    created: dict[str, float] = {}

    def post(body: dict[str, Any]) -> None:
        http = local.setdefault(threading.get_ident(), _session())
        started = time.perf_counter()
        response = http.post(
            f"{api_url}/v1/orders", json=body, headers={"x-api-key": CHANNEL_KEYS[body["channel"]]}, timeout=60
        )
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
