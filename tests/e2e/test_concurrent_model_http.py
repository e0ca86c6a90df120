"""Many operations at once over the local stack's HTTP API, every invariant checked after each round.

Seeded rounds: each round picks operations at random (place an order, cancel whole or
part, ship whole or part, reject, return and receive, appease, adjust stock, a payment
provider's webhook delivered twice, a carrier's webhook delivered twice) on a few orders,
some of them redelivered at once with the same Idempotency-Key, and fires them together
from a thread pool. Once the stack rests (the orders' executions waiting or done), every
invariant of docs/invariants.md is checked against the stack's table
(tests/invariants.py) and against a model of what the accepted answers imply:

- units: shipped per line is the sum of the 201 ship answers, cancelled the sum of the
  201 cancel answers (a redelivered request counts once: its replay is the same answer);
- money: what each payment captured and refunded is what the provider holds for it;
- stock: on hand is what it was set to, plus the accepted adjustments, less the units
  shipped from there, plus the resellable units received back there.

No answer may be a 5xx (a 503, the API's "try again", is retried as a client does).
``make test`` runs a few hundred operations; ``make soak`` with ``SOAK_HTTP_OPERATIONS``
runs thousands. Each run prints operations run, invariants checked and violations, and
writes them to bench-results/model_http.json.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from functions.inventory.api import stock_pk, stock_sk
from functions.payments.gateways.sandbox import sign_sandbox_event
from infra.local.client import RunningStack
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS
from shared.order.record import load_order
from shared.table import Table
from tests.e2e.conftest import Api, put_location, put_stock
from tests.e2e.test_model_http import reading_the_stack  # noqa: F401 (a fixture)
from tests.invariants import Findings, check_order, check_stock

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WMS, AGENT, CHANNEL, OPS = "dev-wms-key", "dev-agent-key", "dev-web-key", "dev-ops-key"
LOCATIONS = {"wh-east": (52.45, 13.52), "wh-west": (51.51, 7.47)}  # both worked by the WMS key
ON_HAND = 400
FINISHED_FO = ("fulfilled", "rejected", "cancelled")
Answer = tuple[int, Any]


@dataclass
class Model:
    """What the accepted answers imply, and what the run found."""

    orders: list[str] = field(default_factory=list)
    skus: dict[str, str] = field(default_factory=dict)  # "A", "B": this run's two SKUs
    line_skus: dict[str, str] = field(default_factory=dict)  # line id -> SKU, learnt after each round
    shipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    cancelled: Counter[tuple[str, str]] = field(default_factory=Counter)
    on_hand: Counter[tuple[str, str]] = field(default_factory=Counter)  # (sku, location)
    trackings: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    operations: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    checks: int = 0
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def found(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)


class Client:
    """One HTTP session per thread (a requests.Session is not shared across threads)."""

    def __init__(self, base: str, model: Model) -> None:
        self.base = base
        self.model = model
        self.local = threading.local()

    def api(self) -> Api:
        api = getattr(self.local, "api", None)
        if api is None:
            api = self.local.api = Api(self.base)
        return api

    def send(self, what: str, method: str, path: str, key: str | None, **kwargs: Any) -> Answer:
        """A request, retried on 503 as a client does; any other 5xx is a violation."""
        response: requests.Response | None = None
        for attempt in range(6):
            response = self.api().request(method, path, key, **kwargs)
            if response.status_code != 503:
                break
            with self.model.lock:
                self.model.answers[f"{what} 503 (retried)"] += 1
            time.sleep(0.3 * (attempt + 1))
        assert response is not None
        with self.model.lock:
            self.model.answers[f"{what} {response.status_code}"] += 1
        if response.status_code >= 500:
            self.model.found(f"{what} {method} {path}: {response.status_code} {response.text[:300]}")
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return response.status_code, body

    def order(self, order_id: str) -> dict[str, Any]:
        status, body = self.send("read order", "GET", f"/v1/orders/{order_id}", OPS)
        assert status == 200, body
        return dict(body)


def _delivered(send: Callable[[], Answer], again: bool) -> list[Answer]:
    """The request, and with ``again`` the same request delivered a second time at once."""
    if not again:
        return [send()]
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda _: send(), range(2)))


def _open(line: dict[str, Any]) -> int:
    return int(line["quantity"]) - sum(int(line.get(k, 0)) for k in ("shipped", "rejected", "cancelled"))


class Operations:
    """Each operation reads what it needs over HTTP, acts, and tells the model what the
    accepted answers imply. A replay of a request (same Idempotency-Key) must answer what
    the first answered; the model counts the request once."""

    def __init__(self, client: Client, model: Model, run_id: str) -> None:
        self.client, self.model, self.run_id = client, model, run_id

    def _accepted(self, what: str, answers: list[Answer], ok: tuple[int, ...], allowed: tuple[int, ...]) -> Any:
        """The one accepted answer of a request delivered once or twice (None if refused)."""
        accepted = [body for status, body in answers if status in ok]
        for status, body in answers:
            if status not in ok + allowed and status < 500:
                self.model.found(f"{what}: unexpected {status} {str(body)[:300]}")
        # The same key while the first is in flight is 409; once answered, the replay is the answer.
        if len(accepted) == 2 and accepted[0] != accepted[1]:
            self.model.found(f"{what}: a replay answered differently: {accepted[0]} / {accepted[1]}")
        return accepted[0] if accepted else None

    def place(self, rng: random.Random, _order_id: str) -> None:
        mugs, tees = rng.randint(1, 3), rng.randint(0, 2)
        lines = [{"sku": self.model.skus["A"], "quantity": mugs, "unit_price": 1250, "tax": 238}]
        if tees:
            lines.append(
                {"sku": self.model.skus["B"], "quantity": tees, "unit_price": 2999, "discount": 300, "tax": 513}
            )
        body = {
            "channel": "web",
            "external_id": f"{self.run_id}-{rng.getrandbits(40):x}",
            "currency": "EUR",
            "customer": {"email": "model@example.com", "name": "Ada Lovelace"},
            "lines": lines,
            "shipping": {
                "address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"},
                "method": "standard",
                "amount": 495,
            },
            "payment": {"provider": "sandbox", "token": "tok_visa"},
        }
        key = {"Idempotency-Key": f"{self.run_id}-place-{rng.getrandbits(48):x}"}
        answers = _delivered(
            lambda: self.client.send("place", "POST", "/v1/orders", CHANNEL, json=body, headers=key),
            again=rng.random() < 0.3,
        )
        placed = self._accepted("place", answers, (201,), (409,))
        if placed:
            with self.model.lock:
                self.model.orders.append(placed["order_id"])

    def cancel(self, rng: random.Random, order_id: str) -> None:
        order = self.client.order(order_id)
        body: dict[str, Any] = {"reason": "customer asked"}
        if rng.random() < 0.7:
            line = rng.choice(order["lines"])
            body["lines"] = [{"line_id": line["line_id"], "quantity": 1}]
        key = {"Idempotency-Key": f"{self.run_id}-cancel-{rng.getrandbits(48):x}"}
        path = f"/v1/orders/{order_id}/cancel"
        answers = _delivered(
            lambda: self.client.send("cancel", "POST", path, AGENT, json=body, headers=key),
            again=rng.random() < 0.3,
        )
        change = self._accepted("cancel", answers, (201,), (409,))
        if change:
            with self.model.lock:
                for part in [change, *change.get("related_changes", [])]:
                    for line in part["lines"]:
                        self.model.cancelled[(order_id, line["line_id"])] += int(line["quantity"])

    def ship(self, rng: random.Random, order_id: str) -> None:
        order = self.client.order(order_id)
        fos = [f for f in order["fulfillment_orders"] if f["status"] not in FINISHED_FO and any(map(_open, f["lines"]))]
        if not fos:
            return
        fo = rng.choice(fos)
        tracking = f"T{rng.getrandbits(56):X}"
        body: dict[str, Any] = {"carrier": "generic", "tracking_number": tracking}
        if rng.random() < 0.6:
            line = rng.choice([li for li in fo["lines"] if _open(li) > 0])
            body["lines"] = [{"line_id": line["line_id"], "quantity": 1}]
        key = {"Idempotency-Key": f"{self.run_id}-ship-{rng.getrandbits(48):x}"}
        path = f"/v1/fulfillment-orders/{fo['fo_id']}/ship"
        answers = _delivered(
            lambda: self.client.send("ship", "POST", path, WMS, json=body, headers=key),
            again=rng.random() < 0.3,
        )
        shipment = self._accepted("ship", answers, (201,), (409,))
        if shipment:
            with self.model.lock:
                self.model.trackings[order_id].append(tracking)
                for line in shipment["lines"]:
                    self.model.shipped[(order_id, line["line_id"])] += int(line["quantity"])
                    sku = self.model.line_skus[line["line_id"]]
                    self.model.on_hand[(sku, fo["location_id"])] -= int(line["quantity"])

    def reject(self, rng: random.Random, order_id: str) -> None:
        order = self.client.order(order_id)
        fos = [f for f in order["fulfillment_orders"] if f["status"] not in FINISHED_FO and any(map(_open, f["lines"]))]
        if not fos:
            return
        fo = rng.choice(fos)
        line = rng.choice([li for li in fo["lines"] if _open(li) > 0])
        body = {"reason": "damaged", "lines": [{"line_id": line["line_id"], "quantity": 1}]}
        key = {"Idempotency-Key": f"{self.run_id}-reject-{rng.getrandbits(48):x}"}
        path = f"/v1/fulfillment-orders/{fo['fo_id']}/reject"
        answers = _delivered(
            lambda: self.client.send("reject", "POST", path, WMS, json=body, headers=key),
            again=rng.random() < 0.3,
        )
        self._accepted("reject", answers, (200, 201), (409,))

    def return_and_receive(self, rng: random.Random, order_id: str) -> None:
        order = self.client.order(order_id)
        returnable = [
            li
            for li in order["lines"]
            if int(li["quantities"].get("shipped", 0))
            - int(li["quantities"].get("returned", 0))
            - int(li["quantities"].get("return_initiated", 0))
            > 0
        ]
        if not returnable:
            return
        line = rng.choice(returnable)
        body = {"lines": [{"line_id": line["line_id"], "quantity": 1, "reason": "defective"}]}
        key = {"Idempotency-Key": f"{self.run_id}-return-{rng.getrandbits(48):x}"}
        path = f"/v1/orders/{order_id}/returns"
        answers = _delivered(
            lambda: self.client.send("return", "POST", path, CHANNEL, json=body, headers=key),
            again=rng.random() < 0.3,
        )
        rma = self._accepted("return", answers, (201,), (409,))
        if not rma:
            return
        location = rng.choice(sorted(LOCATIONS))
        receipt = {
            "location_id": location,
            "lines": [{"line_id": line["line_id"], "quantity": 1, "condition": "resellable"}],
        }
        key = {"Idempotency-Key": f"{self.run_id}-receive-{rng.getrandbits(48):x}"}
        path = f"/v1/returns/{rma['return_id']}/receive"
        answers = _delivered(
            lambda: self.client.send("receive", "POST", path, WMS, json=receipt, headers=key),
            again=rng.random() < 0.3,
        )
        if self._accepted("receive", answers, (200, 201), (409,)):
            with self.model.lock:
                self.model.on_hand[(self.model.line_skus[line["line_id"]], location)] += 1

    def appease(self, rng: random.Random, order_id: str) -> None:
        # Mostly small: only what was captured and not refunded or reserved can be given back.
        body = {"amount": rng.choice([50, 100, 300, 5000]), "reason": "late delivery"}
        key = {"Idempotency-Key": f"{self.run_id}-appease-{rng.getrandbits(48):x}"}
        path = f"/v1/orders/{order_id}/adjustments"
        answers = _delivered(
            lambda: self.client.send("appease", "POST", path, AGENT, json=body, headers=key),
            again=rng.random() < 0.3,
        )
        self._accepted("appease", answers, (201,), (409,))

    def adjust_stock(self, rng: random.Random, _order_id: str) -> None:
        sku, location = self.model.skus[rng.choice("AB")], rng.choice(sorted(LOCATIONS))
        delta = rng.choice([-2, -1, 1, 3, 5])
        body = {"location_id": location, "sku": sku, "delta": delta, "reason": "cycle count"}
        key = {"Idempotency-Key": f"{self.run_id}-stock-{rng.getrandbits(48):x}"}
        answers = _delivered(
            lambda: self.client.send("adjust stock", "POST", "/v1/inventory/adjustments", OPS, json=body, headers=key),
            again=rng.random() < 0.3,
        )
        if self._accepted("adjust stock", answers, (200, 201), (409, 422)) is not None:
            with self.model.lock:
                self.model.on_hand[(sku, location)] += delta

    def payment_webhook(self, rng: random.Random, order_id: str) -> None:
        """The provider delivers one event twice at once: one is processed, one is a duplicate."""
        record = load_order(order_id)
        payments = record.others.get("PAY", []) if record else []
        if not payments:
            return
        reference = payments[0]["reference"]
        payload = {
            "id": f"evt_{self.run_id}_{rng.getrandbits(48):x}",
            "type": "payment.updated",  # no kind the OMS acts on: recorded once, ignored
            "created": int(time.time()),
            "data": {"reference": reference, "payment_reference": reference},
        }
        body, headers = sign_sandbox_event(payload, DEV_WEBHOOK_SECRETS["sandbox"])
        answers = _delivered(
            lambda: self.client.send(
                "payment webhook", "POST", "/v1/webhooks/payments/sandbox", None, data=body, headers=headers
            ),
            again=True,
        )
        fresh = [b for s, b in answers if s < 300 and isinstance(b, dict) and not b.get("duplicate")]
        if len(fresh) > 1:
            self.model.found(f"payment webhook {payload['id']} processed twice: {answers}")
        for status, answer in answers:
            if status >= 300 and status != 409 and status < 500:
                self.model.found(f"payment webhook: unexpected {status} {str(answer)[:300]}")

    def carrier_webhook(self, rng: random.Random, order_id: str) -> None:
        """The carrier delivers one tracking event twice at once."""
        with self.model.lock:
            trackings = list(self.model.trackings.get(order_id, []))
        if not trackings:
            return
        event = {
            "event_id": f"cev_{self.run_id}_{rng.getrandbits(48):x}",
            "tracking_number": rng.choice(trackings),
            "status": rng.choice(["in_transit", "out_for_delivery", "delivered"]),
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        body = json.dumps(event).encode()
        signature = hmac.new(DEV_WEBHOOK_SECRETS["generic"].encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-OMS-Signature": f"sha256={signature}", "Content-Type": "application/json"}
        answers = _delivered(
            lambda: self.client.send(
                "carrier webhook", "POST", "/v1/webhooks/carriers/generic", None, data=body, headers=headers
            ),
            again=True,
        )
        for status, answer in answers:
            if status >= 300 and status < 500:
                self.model.found(f"carrier webhook: unexpected {status} {str(answer)[:300]}")

    KINDS = (
        ("place", 1),
        ("cancel", 1),
        ("ship", 5),
        ("reject", 1),
        ("return_and_receive", 2),
        ("appease", 1),
        ("adjust_stock", 2),
        ("payment_webhook", 1),
        ("carrier_webhook", 2),
    )


class Run:
    def __init__(self, stack_url: str, seed: int, width: int) -> None:
        self.rng = random.Random(seed)
        self.model = Model()
        self.width = width
        self.run_id = f"cm{seed:x}{self.rng.getrandbits(24):x}".upper()
        self.model.skus = {"A": f"{self.run_id}-A", "B": f"{self.run_id}-B"}
        self.client = Client(stack_url, self.model)
        self.ops = Operations(self.client, self.model, self.run_id)
        self.learnt: set[str] = set()
        self.names = [name for name, weight in Operations.KINDS for _ in range(weight)]

    def prepare(self, api: Api, orders: int) -> None:
        for location, (lat, lon) in LOCATIONS.items():
            put_location(api, location, lat=lat, lon=lon)
            for sku in self.model.skus.values():
                put_stock(api, location, sku, ON_HAND)
                self.model.on_hand[(sku, location)] = ON_HAND
        self.round([("place", "")] * orders)

    def _learn_lines(self) -> None:
        for order_id in self.model.orders:
            if order_id not in self.learnt:
                for line in self.client.order(order_id)["lines"]:
                    self.model.line_skus[line["line_id"]] = line["sku"]
                self.learnt.add(order_id)

    def round(self, chosen: list[tuple[str, str]] | None = None) -> None:
        if chosen is None:
            chosen = [(self.rng.choice(self.names), self.rng.choice(self.model.orders)) for _ in range(self.width)]
        seeds = [self.rng.getrandbits(64) for _ in chosen]

        def run(job: tuple[tuple[str, str], int]) -> None:
            (name, order_id), seed = job
            try:
                getattr(self.ops, name)(random.Random(seed), order_id)
            except Exception as err:  # an unexpected failure is a finding, not a stop
                self.model.found(f"{name} on {order_id}: {type(err).__name__}: {str(err)[:300]}")
            with self.model.lock:
                self.model.operations[name] += 1

        with ThreadPoolExecutor(len(chosen)) as pool:
            list(pool.map(run, zip(chosen, seeds, strict=True)))
        self._learn_lines()
        self.settle()

    def settle(self) -> None:
        """Wait until every order's execution rests: waiting on a location or backordered, or
        done with every shipment captured; every received return settled."""

        def resting(order: dict[str, Any]) -> bool:
            # A shipment's capture may wait while the execution waits on another location;
            # once nothing is open every shipment is captured. An order on hold waits for an
            # operator: a fulfillment order its failed execution left open may still ship,
            # and that shipment is captured at the operator's retry (docs/fulfillment.md).
            captured = order["status"] == "on_hold" or all(
                s.get("capture_status") != "pending" for s in order.get("shipments", [])
            )
            waiting = order["fulfillment_status"] == "backordered" or any(
                fo["status"] not in FINISHED_FO for fo in order["fulfillment_orders"]
            )
            done = order["status"] in ("completed", "cancelled", "failed", "on_hold")
            returns = all(r["status"] not in ("received", "partially_received") for r in order.get("returns", []))
            return returns and (waiting or (done and captured))

        deadline = time.monotonic() + 120
        for order_id in self.model.orders:
            while not resting(order := self.client.order(order_id)):
                if time.monotonic() > deadline:
                    self.model.found(f"{order_id} never came to rest: {json.dumps(order)[:3000]}")
                    return
                time.sleep(0.3)

    def check(self) -> None:
        """Every invariant against the table, and the model's: units, money, stock."""
        stock = [(sku, loc) for sku in self.model.skus.values() for loc in LOCATIONS]
        found = Findings()
        for _ in range(20):  # the executions' last writes land just after the answers that rest them
            found = Findings()
            for order_id in self.model.orders:
                record = check_order(order_id, found, shipped=self.model.shipped, cancelled=self.model.cancelled)
                self._check_money(record, found)
            check_stock(self.model.orders, stock, found)
            self._check_on_hand(stock, found)
            if not found.violations:
                break
            time.sleep(0.5)
        self.model.checks += found.checks
        self.model.violations += found.violations

    def _check_money(self, record: Any, found: Findings) -> None:
        """What each payment captured and refunded is what the provider holds for it."""
        table = Table()
        order_id = record.header["order_id"]
        for payment in record.others.get("PAY", []):
            held = table.get(f"SANDBOX#{payment['reference']}", "AUTH") or {}
            for amount in ("captured", "refunded"):
                found.expect(
                    int(payment[amount]) == int(held.get(amount, 0)),
                    f"{order_id} {payment['payment_id']}: {amount} {payment[amount]}, provider {held.get(amount)}",
                )

    def _check_on_hand(self, stock: list[tuple[str, str]], found: Findings) -> None:
        table = Table()
        for sku, location in stock:
            on_hand = int((table.get(stock_pk(sku), stock_sk(location)) or {}).get("on_hand", 0))
            found.expect(
                on_hand == self.model.on_hand[(sku, location)],
                f"stock {sku}@{location}: on hand {on_hand}, model {self.model.on_hand[(sku, location)]}",
            )


def run_concurrent_model(
    api: Api, stack: RunningStack, *, seed: int, operations: int, orders: int, width: int
) -> Model:
    run = Run(stack.api_url, seed, width)
    started = time.monotonic()
    run.prepare(api, orders)
    run.check()
    # A violation stops the run: what the table holds then is what explains it.
    while sum(run.model.operations.values()) < operations + orders and not run.model.violations:
        run.round()
        run.check()
        ran = sum(run.model.operations.values())
        print(f"  {ran} operations, {time.monotonic() - started:.0f} s, {len(run.model.violations)} violations")
    return run.model


def _report(model: Model, seed: int) -> dict[str, Any]:
    return {
        "seed": seed,
        "orders": len(model.orders),
        "operations_run": sum(model.operations.values()),
        "invariants_checked": model.checks,
        "violations": len(model.violations),
        "operations": dict(sorted(model.operations.items())),
        "answers": dict(sorted(model.answers.items())),
        "first_violations": model.violations[:20],
    }


# A few hundred in the suite; `make soak` sets SOAK_HTTP_OPERATIONS to thousands.
OPERATIONS = int(os.environ.get("SOAK_HTTP_OPERATIONS", "200"))


@pytest.mark.usefixtures("reading_the_stack")
@pytest.mark.timeout(180 + 4 * OPERATIONS)  # about a second per operation on the local stack, more when busy
def test_many_operations_at_once_over_http_keep_every_invariant(api: Api, stack: RunningStack) -> None:
    seed = int(os.environ.get("SOAK_SEED", "20261202"))
    operations = OPERATIONS
    model = run_concurrent_model(api, stack, seed=seed, operations=operations, orders=4, width=8)
    report = _report(model, seed)
    print(
        f"concurrent model over HTTP, seed {seed}: {report['operations_run']} operations run, "
        f"{report['invariants_checked']} invariants checked, {report['violations']} violations"
    )
    print(json.dumps({"operations": report["operations"], "answers": report["answers"]}, indent=1))
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "model_http.json").write_text(json.dumps(report, indent=2) + "\n")
    assert report["operations_run"] >= operations
    assert not model.violations, "\n".join(model.violations[:20])
