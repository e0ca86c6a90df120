"""The demo's outside world: warehouse systems and carriers, each a client of the HTTP API.

Every warehouse system (one per WMS key) polls its locations' new fulfillment orders and
works them: accept, pick, pack, then ship (some in two parts) or reject a few for damaged
stock. Carriers post signed tracking updates for every shipment in their own formats,
some twice and some out of order. Nothing here reads the table: only what a real client
sees over HTTP.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from functions.fulfill.logic.carriers.registry import sign
from infra.local.dev_credentials import DEV_API_KEYS, DEV_WEBHOOK_SECRETS

# WMS key -> the locations it is bound to.
WMS_KEYS: dict[str, list[str]] = {
    key: list(principal["locations"])  # type: ignore[call-overload]
    for key, principal in DEV_API_KEYS.items()
    if principal["role"] == "wms"
}
FORMATS = ("easypost", "aftership", "generic")
POLL_SECONDS = 1.0


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


class Surprises:
    """Responses a client did not expect: counted and shown, never fatal."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, int]] = Counter()
        self.samples: dict[tuple[str, int], str] = {}

    def note(self, what: str, status: int, text: str) -> None:
        with self.lock:
            self.counts[(what, status)] += 1
            self.samples.setdefault((what, status), text[:160].replace("\n", " "))


class Api:
    """One client's HTTP session with its own key."""

    def __init__(self, base_url: str, key: str | None, surprises: Surprises):
        self.base_url = base_url
        self.key = key
        self.surprises = surprises
        self.http = requests.Session()

    def send(
        self, method: str, path: str, what: str, *, expect: tuple[int, ...] = (200, 201), **kwargs: Any
    ) -> Any | None:
        """The JSON answer, or None (noted) on any other status or a broken connection."""
        headers = dict(kwargs.pop("headers", None) or {})
        if self.key:
            headers["x-api-key"] = self.key
        try:
            response = self.http.request(method, self.base_url + path, headers=headers, timeout=60, **kwargs)
        except requests.RequestException as err:
            self.surprises.note(what, 0, str(err))
            return None
        if response.status_code not in expect:
            self.surprises.note(what, response.status_code, response.text)
            return None
        return response.json() if response.content else {}


# --- carriers ---------------------------------------------------------------------------

_EASYPOST = {"in_transit": "in_transit", "out_for_delivery": "out_for_delivery", "delivered": "delivered"}
_EASYPOST |= {"exception": "failure"}
_AFTERSHIP = {"in_transit": "InTransit", "out_for_delivery": "OutForDelivery", "delivered": "Delivered"}
_AFTERSHIP |= {"exception": "Exception"}
_MESSAGES = {
    "in_transit": "Departed from facility",
    "out_for_delivery": "With delivery courier",
    "delivered": "Delivered - front door",
    "exception": "Address not found, delivery attempt failed",
}


def carrier_body(carrier: str, tracking: str, scans: list[tuple[str, str]], event_id: str) -> bytes:
    """The webhook ``carrier`` posts when its latest scan is ``scans[-1]`` (status, time)."""
    status, at = scans[-1]
    if carrier == "easypost":
        details = [
            {"object": "TrackingDetail", "status": _EASYPOST[s], "message": _MESSAGES[s], "datetime": t}
            for s, t in scans
        ]
        tracker = {
            "object": "Tracker",
            "id": f"trk_{tracking.lower()}",
            "tracking_code": tracking,
            "status": _EASYPOST[status],
            "carrier": "DHLExpress",
            "updated_at": at,
            "tracking_details": details,
        }
        doc: dict[str, Any] = {
            "object": "Event",
            "id": event_id,
            "description": "tracker.updated",
            "mode": "test",
            "created_at": at,
            "result": tracker,
        }
    elif carrier == "aftership":
        checkpoints = [
            {"tag": _AFTERSHIP[s], "message": _MESSAGES[s], "checkpoint_time": t, "location": "Leipzig, DE"}
            for s, t in scans
        ]
        msg = {"tracking_number": tracking, "slug": "dhl", "tag": _AFTERSHIP[status], "checkpoints": checkpoints}
        doc = {"event": "tracking_update", "event_id": event_id, "ts": int(time.time()), "msg": msg}
    else:
        doc = {"event_id": event_id, "tracking_number": tracking, "status": status, "occurred_at": at}
        doc |= {"description": _MESSAGES[status], "carrier": "dhl"}
    return json.dumps(doc).encode()


@dataclass(order=True)
class _Post:
    due: float
    seq: int
    carrier: str = field(compare=False)
    body: bytes = field(compare=False)
    duplicate: bool = field(compare=False, default=False)


class Carriers(threading.Thread):
    """Posts each shipment's in_transit, out_for_delivery and delivered scans when they are due."""

    def __init__(self, api_url: str, surprises: Surprises, seed: int, exception_after: int = 6):
        super().__init__(daemon=True, name="carriers")
        self.api = Api(api_url, None, surprises)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.queue: list[_Post] = []
        self.seq = itertools.count()
        self.formats = itertools.cycle(FORMATS)
        self.exception_after = exception_after  # the n-th parcel hits a snag on the way
        self.parcels = 0
        self.stop = threading.Event()
        self.posted: Counter[str] = Counter()
        self.duplicates = 0
        self.out_of_order = 0
        self.exceptions = 0

    def next_carrier(self) -> str:
        with self.lock:
            return next(self.formats)

    def track(self, carrier: str, tracking: str) -> None:
        """Plan the scans of a parcel handed over just now."""
        with self.lock:
            self.parcels += 1
            snag = self.parcels == self.exception_after
            now = time.time()
            steps = ["in_transit", *(["exception"] if snag else []), "out_for_delivery", "delivered"]
            times, t = [], now
            for _ in steps:
                t += self.rng.uniform(0.5, 2.0)
                times.append(t)
            scans = list(zip(steps, [iso(x) for x in times], strict=True))
            posts = [(times[i], scans[: i + 1]) for i in range(len(scans))]
            if self.rng.random() < 0.15:  # the delivery scan arrives before the one before it
                self.out_of_order += 1
                (t_ood, ood), (t_del, dlv) = posts[-2], posts[-1]
                posts[-2:] = [(t_ood, dlv), (t_del, ood)]
            self.exceptions += snag
            planned = [
                _Post(
                    due, next(self.seq), carrier, carrier_body(carrier, tracking, seen, f"evt-{tracking}-{seen[-1][0]}")
                )
                for due, seen in posts
            ]
            if self.rng.random() < 0.15:  # the carrier sends an update twice
                self.duplicates += 1
                again = self.rng.choice(planned)
                planned.append(_Post(again.due + 0.5, next(self.seq), carrier, again.body, True))
            for post in planned:
                heapq.heappush(self.queue, post)

    def pending(self) -> int:
        with self.lock:
            return len(self.queue)

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                due = heapq.heappop(self.queue) if self.queue and self.queue[0].due <= time.time() else None
            if due is None:
                self.stop.wait(0.2)
                continue
            self.post(due.carrier, due.body)

    def post(self, carrier: str, body: bytes, *, secret: str | None = None, expect: tuple[int, ...] = (202,)) -> bool:
        headers = sign(carrier, body, secret or DEV_WEBHOOK_SECRETS[carrier]) | {"Content-Type": "application/json"}
        answer = self.api.send(
            "POST", f"/v1/webhooks/carriers/{carrier}", f"carrier {carrier}", expect=expect, data=body, headers=headers
        )
        if answer is not None and secret is None:
            with self.lock:
                self.posted[carrier] += 1
        return answer is not None

    def forge(self, tracking: str) -> int:
        """A delivered update signed with the wrong secret: the status code it gets."""
        body = carrier_body("generic", tracking, [("delivered", iso(time.time()))], "evt-forged-1")
        headers = sign("generic", body, "not-the-secret") | {"Content-Type": "application/json"}
        response = self.api.http.post(
            f"{self.api.base_url}/v1/webhooks/carriers/generic", data=body, headers=headers, timeout=30
        )
        return response.status_code


# --- warehouse systems --------------------------------------------------------------------


@dataclass
class Held:
    """Orders the warehouses leave alone for now (the agent changes them first)."""

    order_ids: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __contains__(self, order_id: object) -> bool:
        with self.lock:
            return order_id in self.order_ids

    def release(self) -> None:
        with self.lock:
            self.order_ids.clear()


@dataclass
class FloorStats:
    worked: int = 0
    rejected: int = 0
    shipments: int = 0
    split_fos: int = 0
    rejected_orders: set[str] = field(default_factory=set)
    # Orders whose story is their shipment (the Shopify order's goes back to the shop): their
    # stock is never the damaged one, or a rejection with no stock elsewhere would leave them
    # waiting for stock and the story untold.
    spared_orders: set[str] = field(default_factory=set)


class Warehouse(threading.Thread):
    """One warehouse system: polls its locations' new work and ships it."""

    def __init__(
        self,
        api_url: str,
        key: str,
        carriers: Carriers,
        held: Held,
        stats: FloorStats,
        stats_lock: threading.Lock,
        surprises: Surprises,
        seed: int,
    ):
        super().__init__(daemon=True, name=f"wms-{key}")
        self.key = key
        self.locations = WMS_KEYS[key]
        self.api = Api(api_url, key, surprises)
        self.carriers = carriers
        self.held = held
        self.stats = stats
        self.stats_lock = stats_lock
        self.rng = random.Random(f"{seed}-{key}")
        self.seen: set[str] = set()
        self.rest_due: list[tuple[float, str]] = []  # FOs shipped in part (or not at all): the rest goes later
        self.attempts: Counter[str] = Counter()
        self.stop = threading.Event()
        self.idle = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            worked = self.cycle()
            if not worked and not self.rest_due:
                self.idle.set()
            else:
                self.idle.clear()
            self.stop.wait(POLL_SECONDS)

    def cycle(self) -> int:
        worked = 0
        for location_id in self.locations:
            page = self.api.send(
                "GET",
                "/v1/fulfillment-orders",
                "WMS list",
                params={"location_id": location_id, "status": "allocated", "limit": 200},
            )
            for fo in (page or {}).get("items", []):
                if fo["fo_id"] in self.seen or fo["order_id"] in self.held or self.stop.is_set():
                    continue
                self.seen.add(fo["fo_id"])
                self.work(fo)
                worked += 1
        now = time.monotonic()
        for due, fo_id in [r for r in self.rest_due if r[0] <= now]:
            self.rest_due.remove((due, fo_id))
            self.ship(fo_id, None)
        return worked

    def work(self, fo: dict[str, Any]) -> None:
        fo_id = fo["fo_id"]
        with self.stats_lock:
            # One FO in twenty (never twice for one order) turns out to hold damaged stock.
            turn = self.stats.worked + self.stats.rejected
            reject = (
                fo["order_id"] not in self.stats.rejected_orders
                and fo["order_id"] not in self.stats.spared_orders
                and turn % 20 == 7
            )
            if reject:
                self.stats.rejected_orders.add(fo["order_id"])
        if reject:
            answer = self.api.send(
                "POST", f"/v1/fulfillment-orders/{fo_id}/reject", "WMS reject", json={"reason": "damaged stock"}
            )
            with self.stats_lock:
                self.stats.rejected += answer is not None
            return
        for step in ("accept", "pick", "pack"):
            if self.api.send("POST", f"/v1/fulfillment-orders/{fo_id}/{step}", f"WMS {step}", json={}) is None:
                return
        with self.stats_lock:
            self.stats.worked += 1
        part = self.first_part(fo["lines"])
        self.ship(fo_id, part)
        if part:
            with self.stats_lock:
                self.stats.split_fos += 1
            self.rest_due.append((time.monotonic() + self.rng.uniform(1.0, 3.0), fo_id))

    def first_part(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """About one FO in five with more than one unit ships in two parts: this is the first."""
        open_lines = [x for x in lines if x["open"] > 0]
        if sum(x["open"] for x in open_lines) < 2 or self.rng.random() >= 0.2:
            return None
        if len(open_lines) > 1:
            return [{"line_id": x["line_id"], "quantity": x["open"]} for x in open_lines[: len(open_lines) // 2]]
        return [{"line_id": open_lines[0]["line_id"], "quantity": open_lines[0]["open"] // 2}]

    def ship(self, fo_id: str, lines: list[dict[str, Any]] | None) -> None:
        carrier = self.carriers.next_carrier()
        tracking = f"{carrier[:2].upper()}{fo_id.removeprefix('fo_').upper()}{'A' if lines else 'B'}"
        body: dict[str, Any] = {"carrier": carrier, "tracking_number": tracking}
        if lines:
            body["lines"] = lines
        shipment = self.api.send(
            "POST", f"/v1/fulfillment-orders/{fo_id}/ship", "WMS ship", json=body, headers={"Idempotency-Key": tracking}
        )
        if shipment is None:  # try the rest again later; the key makes a retry safe
            self.attempts[fo_id] += 1
            if self.attempts[fo_id] < 4:
                self.rest_due.append((time.monotonic() + 3.0, fo_id))
            return
        with self.stats_lock:
            self.stats.shipments += 1
        self.carriers.track(carrier, tracking)


class World:
    """The warehouse systems and the carriers, started and stopped together."""

    def __init__(self, api_url: str, seed: int):
        self.surprises = Surprises()
        self.held = Held()
        self.stats = FloorStats()
        self.carriers = Carriers(api_url, self.surprises, seed)
        self.stats_lock = threading.Lock()
        self.warehouses = [
            Warehouse(api_url, key, self.carriers, self.held, self.stats, self.stats_lock, self.surprises, seed)
            for key in WMS_KEYS
        ]

    def start(self) -> None:
        self.carriers.start()
        for w in self.warehouses:
            w.start()

    def spare(self, order_id: str) -> None:
        """Never reject ``order_id``'s fulfillment orders (``FloorStats.spared_orders``)."""
        with self.stats_lock:
            self.stats.spared_orders.add(order_id)

    def quiet(self) -> bool:
        """No warehouse found work in its last round and no carrier scan is waiting."""
        return all(w.idle.is_set() for w in self.warehouses) and self.carriers.pending() == 0

    def stop(self) -> None:
        for w in self.warehouses:
            w.stop.set()
        self.carriers.stop.set()
        for t in (*self.warehouses, self.carriers):
            t.join(30)

    def key_for(self, location_id: str) -> str | None:
        return next((k for k, locations in WMS_KEYS.items() if location_id in locations), None)
