"""A seeded, bounded model-based concurrency run: many operations on a few orders at once.

Each round picks operations at random (seeded) and runs them on threads released
together: ship (whole or part), reject, cancel (whole or part), capture, return and
receive, settle a receipt, appeasement, stock counts, duplicated provider webhooks.
After every round every invariant is checked against the table and against a model of
what the answers said happened (units shipped and cancelled per line).

In the test suite it runs a few rounds; ``make soak`` runs it long
(``SOAK_OPERATIONS``, ``SOAK_SEED``) and prints what it ran, checked and found.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from functions.allocate.logic.allocation import allocate_order
from functions.fulfill.handlers import release_to_fulfillment
from functions.fulfill.handlers.api import handler as fulfillment_handler
from functions.fulfill.logic import resume as fulfillment_resume
from functions.fulfill.store import fulfillment_orders_of
from functions.inventory.store import set_stock
from functions.payments.gateways import registry
from functions.payments.gateways.sandbox import sign_sandbox_event
from functions.payments.handlers import webhooks
from functions.payments.logic import authorize, capture
from functions.payments.rules.ledger import reserved_refunds
from functions.returns.handlers.api import handler as returns_handler
from functions.returns.logic.settle import _settle_receipt
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS
from infra.local.runtime import LambdaContext
from shared.clock import now_iso
from shared.errors import DomainError
from shared.ids import new_id
from shared.order.quantities import LineQuantities
from shared.order.record import load_order
from tests.integration.conftest import api_event, call, stock_up
from tests.integration.test_cancel_and_adjust import capture as capture_order
from tests.integration.test_cancel_and_adjust import order_body, post_change

LOCATION = "wh-east"
SKUS = ("SOAK-A", "SOAK-B")
LINES = [
    {"sku": "SOAK-A", "quantity": 4, "unit_price": 1250, "tax": 400},
    {"sku": "SOAK-B", "quantity": 3, "unit_price": 2999, "discount": 300, "tax": 600},
]


@dataclass
class Model:
    """What the answers said happened, per (order, line): units shipped and cancelled."""

    shipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    cancelled: Counter[tuple[str, str]] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    checks: int = 0
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _fulfillment(fo_id: str, action: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    event = api_event(
        "POST",
        f"/v1/fulfillment-orders/{fo_id}/{action}",
        resource=f"/v1/fulfillment-orders/{{fo_id}}/{action}",
        body=body,
        key="dev-wms-key",
        path_parameters={"fo_id": fo_id},
    )
    return call(fulfillment_handler, event)


def _returns(path: str, resource: str, body: dict[str, Any], key: str, params: dict[str, str]) -> Any:
    return call(returns_handler, api_event("POST", path, resource=resource, body=body, key=key, path_parameters=params))


class Driver:
    def __init__(self, seed: int, orders: list[str], model: Model) -> None:
        self.rng = random.Random(seed)
        self.orders = orders
        self.model = model

    # -- operations: each reads what it needs, acts, and tells the model what was answered

    def ship(self, order_id: str) -> str:
        record = load_order(order_id)
        fos = [fo for fo in (record.others.get("FO", []) if record else []) if fo["status"] not in ("fulfilled",)]
        if not fos:
            return "skip"
        fo = self.rng.choice(fos)
        whole = self.rng.random() < 0.4
        lines = [] if whole else [{"line_id": line["line_id"], "quantity": 1} for line in fo["lines"][:1]]
        body: dict[str, Any] = {"carrier": "dhl", "tracking_number": f"TRK-{self.rng.getrandbits(48):x}"}
        if lines:
            body["lines"] = lines
        status, _, out = _fulfillment(fo["fo_id"], "ship", body)
        if status == 201:
            with self.model.lock:
                for line in out["lines"]:
                    self.model.shipped[(order_id, line["line_id"])] += int(line["quantity"])
        return str(status)

    def reject(self, order_id: str) -> str:
        record = load_order(order_id)
        fos = record.others.get("FO", []) if record else []
        if not fos:
            return "skip"
        fo = self.rng.choice(fos)
        line = fo["lines"][-1]
        body = {"reason": "damaged in the warehouse", "lines": [{"line_id": line["line_id"], "quantity": 1}]}
        return str(_fulfillment(fo["fo_id"], "reject", body)[0])

    def cancel(self, order_id: str) -> str:
        record = load_order(order_id)
        if record is None:
            return "skip"
        body: dict[str, Any] = {"reason": "customer asked"}
        if self.rng.random() < 0.7:
            line = self.rng.choice(record.lines)
            body["lines"] = [{"line_id": line["line_id"], "quantity": 1}]
        status, _, out = post_change(order_id, "cancel", body, key="dev-agent-key")
        if status == 201:
            with self.model.lock:
                for line in out["lines"]:
                    self.model.cancelled[(order_id, line["line_id"])] += int(line["quantity"])
                for related in out.get("related_changes", []):
                    for line in related["lines"]:
                        self.model.cancelled[(order_id, line["line_id"])] += int(line["quantity"])
        return str(status)

    def capture(self, order_id: str) -> str:
        for fo in fulfillment_orders_of(order_id):
            try:
                capture.capture_shipments(order_id, fo["fo_id"])
            except DomainError as err:
                return f"capture:{type(err).__name__}"
        return "ok"

    def appease(self, order_id: str) -> str:
        body = {"amount": self.rng.choice([100, 500, 2000, 6000]), "reason": "late"}
        return str(post_change(order_id, "adjustments", body, key="dev-agent-key")[0])

    def return_and_receive(self, order_id: str) -> str:
        record = load_order(order_id)
        shipped = [line for line in (record.lines if record else []) if LineQuantities.of(line).returnable > 0]
        if not shipped:
            return "skip"
        line = self.rng.choice(shipped)
        body = {"lines": [{"line_id": line["line_id"], "quantity": 1, "reason": "defective"}]}
        status, _, rma = _returns(
            f"/v1/orders/{order_id}/returns",
            "/v1/orders/{order_id}/returns",
            body,
            "dev-web-key",
            {"order_id": order_id},
        )
        if status != 201:
            return f"return:{status}"
        receipt = {
            "location_id": LOCATION,
            "lines": [{"line_id": line["line_id"], "quantity": 1, "condition": "resellable"}],
        }
        rid = rma["return_id"]
        status, _, _ = _returns(
            f"/v1/returns/{rid}/receive", "/v1/returns/{return_id}/receive", receipt, "dev-wms-key", {"return_id": rid}
        )
        return f"receive:{status}"

    def settle(self, order_id: str) -> str:
        record = load_order(order_id)
        for ret in record.others.get("RET", []) if record else []:
            for receipt in ret.get("receipts", []):
                if not receipt["settled"]:
                    try:
                        _settle_receipt(ret["return_id"], receipt["receipt_id"])
                    except DomainError as err:
                        return f"settle:{type(err).__name__}"
        return "ok"

    def stock(self, _order_id: str) -> str:
        sku = self.rng.choice(SKUS)
        try:
            set_stock(LOCATION, sku, self.rng.randint(20, 60), 0, now_iso())
        except DomainError as err:
            return f"stock:{type(err).__name__}"
        return "ok"

    def duplicate_webhook(self, order_id: str) -> str:
        record = load_order(order_id)
        payments = record.others.get("PAY", []) if record else []
        if not payments:
            return "skip"
        payload = {
            "id": new_id("evt"),
            "type": "authorization.expired" if self.rng.random() < 0.1 else "other",
            "created": 1_700_000_000,
            "data": {"reference": payments[0]["reference"], "payment_reference": payments[0]["reference"]},
        }
        body, headers = sign_sandbox_event(payload, DEV_WEBHOOK_SECRETS["sandbox"])
        event = api_event(
            "POST",
            "/v1/webhooks/payments/sandbox",
            resource="/v1/webhooks/payments/{provider}",
            body=body.decode(),
            key=None,
            headers=headers,
            path_parameters={"provider": "sandbox"},
        )
        return str(call(webhooks.handler, event)[0])

    OPERATIONS = (
        "ship",
        "ship",
        "reject",
        "cancel",
        "capture",
        "appease",
        "return_and_receive",
        "settle",
        "stock",
        "duplicate_webhook",
    )

    def round(self, width: int) -> None:
        chosen = [(self.rng.choice(self.OPERATIONS), self.rng.choice(self.orders)) for _ in range(width)]
        barrier = threading.Barrier(width)

        def run(name: str, order_id: str) -> None:
            barrier.wait()
            try:
                answer = getattr(self, name)(order_id)
            except Exception as err:  # an unexpected crash is a finding, not a stop
                answer = f"crash:{type(err).__name__}:{err}"
            with self.model.lock:
                self.model.operations[name] += 1
                self.model.answers[f"{name}->{answer}"] += 1
                if answer.startswith("crash") or answer.startswith("5"):
                    self.model.violations.append(f"{name} on {order_id}: {answer}")

        threads = [threading.Thread(target=run, args=pair) for pair in chosen]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    # -- the invariants, against the table and the model

    def check(self) -> None:
        for order_id in self.orders:
            record = load_order(order_id)
            assert record is not None
            for line in record.lines:
                q = LineQuantities.of(line)
                self._expect(q.consistent(), f"{order_id} {line['line_id']}: buckets {q.as_dict()}")
                key = (order_id, line["line_id"])
                self._expect(q.shipped == self.model.shipped[key], f"{key}: shipped {q.shipped} vs model")
                self._expect(q.cancelled == self.model.cancelled[key], f"{key}: cancelled {q.cancelled} vs model")
            refundable = 0
            for p in record.others.get("PAY", []):
                captured, refunded, pending = int(p["captured"]), int(p["refunded"]), int(p["refund_pending"])
                released, authorized = int(p.get("released", 0)), int(p["authorized"])
                self._expect(captured + released <= authorized, f"{order_id} {p['payment_id']}: captured > authorized")
                self._expect(refunded + pending <= captured, f"{order_id} {p['payment_id']}: refunded > captured")
                refundable += captured - refunded - pending
            reserved = sum(reserved_refunds(record.header).values())
            self._expect(reserved <= refundable, f"{order_id}: reserved {reserved} > refundable {refundable}")

    def _expect(self, ok: bool, what: str) -> None:
        self.model.checks += 1
        if not ok:
            self.model.violations.append(what)


def _prepare(monkeypatch: pytest.MonkeyPatch, orders: int, seed: int) -> list[str]:
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    monkeypatch.setattr("functions.returns.logic.authorize.start_return_lifecycle", lambda *a, **k: "")
    monkeypatch.setattr(fulfillment_resume, "resume_task", lambda token, output: True)
    monkeypatch.setattr("functions.fulfill.logic.awaiting.resume_task", lambda token, output: True)
    registry.reset()
    stock_up(dict.fromkeys(SKUS, 1000), location_id=LOCATION)
    ids = []
    for n in range(orders):
        order = capture_order(order_body(f"SOAK-{seed}-{n}", lines=LINES, promotions=[], shipping=500))
        allocate_order(order["order_id"])
        authorize.authorize_order(order["order_id"])
        release_to_fulfillment.handler({"order_id": order["order_id"]}, LambdaContext(function_name="soak"))
        ids.append(order["order_id"])
    return ids


def run_soak(monkeypatch: pytest.MonkeyPatch, *, seed: int, operations: int, width: int, orders: int) -> Model:
    model = Model()
    driver = Driver(seed, _prepare(monkeypatch, orders, seed), model)
    rounds = max(1, operations // width)
    for _ in range(rounds):
        driver.round(width)
        driver.check()
    return model


def _report(model: Model, seed: int) -> str:
    ran = sum(model.operations.values())
    lines = [
        f"seed {seed}: {ran} operations run, {model.checks} invariants checked, {len(model.violations)} violations"
    ]
    lines += [f"  {name}: {count}" for name, count in sorted(model.answers.items())]
    lines += [f"  VIOLATION {v}" for v in model.violations[:20]]
    return "\n".join(lines)


@pytest.mark.slow
def test_many_operations_at_once_keep_every_invariant(aws, monkeypatch: pytest.MonkeyPatch):
    seed = int(os.environ.get("SOAK_SEED", "20261202"))
    operations = int(os.environ.get("SOAK_OPERATIONS", "48"))
    orders = int(os.environ.get("SOAK_ORDERS", "3"))
    model = run_soak(monkeypatch, seed=seed, operations=operations, width=4, orders=orders)
    print(_report(model, seed))
    assert sum(model.operations.values()) >= operations - 3
    assert not model.violations, _report(model, seed)
    by_kind: defaultdict[str, int] = defaultdict(int)
    for name in model.operations:
        by_kind[name] += 1
    assert len(by_kind) >= 5  # the seed reaches most kinds of operation
