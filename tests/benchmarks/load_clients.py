"""The benchmarks' clients: channels capturing orders, a WMS working its fulfillment orders
and a carrier reporting deliveries, all over the HTTP API, as real clients would.

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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import requests

from demo.samples import CHANNEL_KEYS
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS

LOCATION = "wh-east"  # one of the locations the development WMS key is bound to
WMS = {"x-api-key": "dev-wms-key"}


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

    def _work(self, fo: dict[str, Any]) -> None:
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

    def work_once(self) -> int:
        page = self.http.get(
            f"{self.api_url}/v1/fulfillment-orders",
            params={"location_id": LOCATION, "status": "allocated", "limit": 200},
            headers=WMS,
            timeout=60,
        ).json()
        items = page.get("items", [])
        with ThreadPoolExecutor(self.pickers) as pool:
            list(pool.map(self._work, items))
        return len(items)

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.work_once():
                time.sleep(1.0)  # an idle WMS polls its work list once a second


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
    warehouse = Warehouse(api_url, pickers=pickers)
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
            conn.send((warehouse.shipped, warehouse.errors, time.process_time()))
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

    def stop(self) -> tuple[dict[str, float], list[str], float]:
        """What the WMS shipped (order id: when), its errors, and the process's CPU seconds."""
        self._conn.send(("stop",))
        shipped, errors, cpu = self._conn.recv()
        self._process.join(timeout=30)
        return shipped, errors, cpu

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._conn.close()
