"""A model-based test over the local stack's HTTP API (hypothesis stateful testing).

Hypothesis picks a sequence of what channels, agents and warehouses do over HTTP: place
an order, cancel part or all of it, ship part or all of a fulfillment order through the
WMS API, reject a unit (the order is routed to the other location), return and receive
a shipped unit, appease. A model keeps what the answers said happened (units shipped and
cancelled per line); after every step every invariant of docs/invariants.md is checked
against the stack's table (tests/invariants.py, the soak's checks) and the model. No
answer may be a 5xx other than the documented 503 (try again), which is retried as a
client does. Bounded (a few examples of a few steps): the stack runs real executions.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from infra import manifest
from infra.local.client import RunningStack
from infra.local.provision import local_name
from shared import warm_cache
from shared.ids import new_id
from tests.e2e.conftest import Api, get_order, put_location, put_stock, wait_for_order
from tests.invariants import Findings, check_order, check_stock

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WMS, AGENT, CHANNEL = "dev-wms-key", "dev-agent-key", "dev-web-key"
LOCATIONS = ("wh-east", "wh-west")  # both worked by the WMS key
SKUS = ("MBT-MUG", "MBT-TEE")
# Every order placed in the run: stock is shared by the orders of all examples.
EVERY_ORDER: list[str] = []


@pytest.fixture(scope="module")
def reading_the_stack(stack: RunningStack) -> Iterator[None]:
    """The shared table client reads the running stack's table (through its AWS endpoint)."""
    patch = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ENDPOINT_URL": stack.aws_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": local_name(manifest.TABLE.name),
    }.items():
        patch.setenv(name, value)
    warm_cache.reset_all()
    yield
    patch.undo()
    warm_cache.reset_all()


def _answer(send: Any) -> Any:
    """A request, retried on 503 as a client does; never a 5xx otherwise."""
    for _ in range(4):
        response = send()
        if response.status_code != 503:
            break
        time.sleep(0.5)
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    return response


class OrderLifecycleOverHttp(RuleBasedStateMachine):
    api: Api

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.placed: list[str] = []
        self.shipped: Counter[tuple[str, str]] = Counter()
        self.cancelled: Counter[tuple[str, str]] = Counter()
        self.answers: Counter[str] = Counter()

    @initialize(target=orders)
    def first_order(self) -> str:
        for location in LOCATIONS:
            for sku in SKUS:
                put_stock(self.api, location, sku, 200)
        return self.place(mugs=3, tees=2)

    # -- what the outside world does

    @rule(target=orders, mugs=st.integers(1, 3), tees=st.integers(0, 2))
    def place(self, mugs: int, tees: int) -> str:
        lines = [{"sku": "MBT-MUG", "quantity": mugs, "unit_price": 1250, "tax": 238}]
        if tees:
            lines.append({"sku": "MBT-TEE", "quantity": tees, "unit_price": 2999, "discount": 300, "tax": 513})
        body = {
            "channel": "web",
            "external_id": new_id("ord"),
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
        response = _answer(lambda: self.api.post("/v1/orders", body, key=CHANNEL))
        assert response.status_code == 201, response.text
        order_id = str(response.json()["order_id"])
        self.placed.append(order_id)
        EVERY_ORDER.append(order_id)
        self._settled(order_id)
        self.answers["place"] += 1
        return order_id

    @rule(order_id=orders, whole=st.booleans())
    def cancel(self, order_id: str, whole: bool) -> None:
        order = get_order(self.api, order_id)
        body: dict[str, Any] = {"reason": "customer asked"}
        if not whole:
            line = order["lines"][0]
            body["lines"] = [{"line_id": line["line_id"], "quantity": 1}]
        response = _answer(lambda: self.api.post(f"/v1/orders/{order_id}/cancel", body, key=AGENT))
        self.answers[f"cancel {response.status_code}"] += 1
        if response.status_code == 201:
            for line in response.json()["lines"]:
                self.cancelled[(order_id, line["line_id"])] += int(line["quantity"])
        else:
            assert response.status_code == 409, response.text
        self._settled(order_id)

    @rule(order_id=orders, whole=st.booleans())
    def ship(self, order_id: str, whole: bool) -> None:
        fo = self._open_fo(order_id)
        if fo is None:
            return
        body: dict[str, Any] = {"carrier": "dhl", "tracking_number": new_id("shp").upper()}
        if not whole:
            line = next(li for li in fo["lines"] if _open(li) > 0)
            body["lines"] = [{"line_id": line["line_id"], "quantity": 1}]
        response = _answer(lambda: self.api.post(f"/v1/fulfillment-orders/{fo['fo_id']}/ship", body, key=WMS))
        self.answers[f"ship {response.status_code}"] += 1
        if response.status_code == 201:
            for line in response.json()["lines"]:
                self.shipped[(order_id, line["line_id"])] += int(line["quantity"])
        else:
            assert response.status_code == 409, response.text
        self._settled(order_id)

    @rule(order_id=orders)
    def reject(self, order_id: str) -> None:
        fo = self._open_fo(order_id)
        if fo is None:
            return
        line = next(li for li in fo["lines"] if _open(li) > 0)
        body = {"reason": "damaged", "lines": [{"line_id": line["line_id"], "quantity": 1}]}
        response = _answer(lambda: self.api.post(f"/v1/fulfillment-orders/{fo['fo_id']}/reject", body, key=WMS))
        self.answers[f"reject {response.status_code}"] += 1
        assert response.status_code in (200, 201, 409), response.text
        self._settled(order_id)

    @rule(order_id=orders)
    def return_and_receive(self, order_id: str) -> None:
        order = get_order(self.api, order_id)
        line = next((li for li in order["lines"] if _returnable(li) > 0), None)
        if line is None:
            return
        body = {"lines": [{"line_id": line["line_id"], "quantity": 1, "reason": "defective"}]}
        created = _answer(lambda: self.api.post(f"/v1/orders/{order_id}/returns", body, key=CHANNEL))
        self.answers[f"return {created.status_code}"] += 1
        if created.status_code != 201:
            assert created.status_code == 409, created.text
            return
        return_id = created.json()["return_id"]
        location = next(iter(order["fulfillment_orders"]), {}).get("location_id", LOCATIONS[0])
        receipt = {
            "location_id": location,
            "lines": [{"line_id": line["line_id"], "quantity": 1, "condition": "resellable"}],
        }
        received = _answer(lambda: self.api.post(f"/v1/returns/{return_id}/receive", receipt, key=WMS))
        self.answers[f"receive {received.status_code}"] += 1
        assert received.status_code in (200, 409), received.text
        self._settled(order_id)

    @rule(order_id=orders, amount=st.sampled_from([100, 800, 5000]))
    def appease(self, order_id: str, amount: int) -> None:
        body = {"amount": amount, "reason": "late delivery"}
        response = _answer(lambda: self.api.post(f"/v1/orders/{order_id}/adjustments", body, key=AGENT))
        self.answers[f"appease {response.status_code}"] += 1
        assert response.status_code in (201, 409), response.text
        self._settled(order_id)

    # -- after every step: the invariants, against the table and the model

    @invariant()
    def every_invariant_holds(self) -> None:
        # The executions run on after the answers: an order read before a step of theirs and
        # the stock read after it disagree for a moment. What holds at rest holds once they rest.
        for _ in range(20):
            found = Findings()
            for order_id in self.placed:
                check_order(order_id, found, shipped=self.shipped, cancelled=self.cancelled)
            check_stock(EVERY_ORDER, [(sku, loc) for sku in SKUS for loc in LOCATIONS], found)
            if not found.violations:
                return
            time.sleep(0.5)
        raise AssertionError(found.violations)

    def teardown(self) -> None:
        ran = ", ".join(f"{k}: {v}" for k, v in sorted(self.answers.items()))
        print(f"model over HTTP: {len(self.placed)} orders; answers {ran}; invariants held after every step")

    # -- helpers

    def _open_fo(self, order_id: str) -> dict[str, Any] | None:
        order = get_order(self.api, order_id)
        open_fos = [
            fo
            for fo in order["fulfillment_orders"]
            if fo["status"] not in ("fulfilled", "rejected", "cancelled") and any(_open(li) for li in fo["lines"])
        ]
        return open_fos[0] if open_fos else None

    def _settled(self, order_id: str) -> None:
        """Wait until the order's execution rests: waiting on a location, backordered or done
        (its steps run after the answers; the model's checks read the table)."""

        def resting(order: dict[str, Any]) -> bool:
            # On hold, a shipment's capture waits for the operator's retry (docs/fulfillment.md).
            captured_all = order["status"] == "on_hold" or all(
                s.get("capture_status") != "pending" for s in order.get("shipments", [])
            )
            waiting = order["fulfillment_status"] in ("backordered",) or any(
                fo["status"] not in ("fulfilled", "rejected", "cancelled") for fo in order["fulfillment_orders"]
            )
            done = order["status"] in ("completed", "cancelled", "failed", "on_hold")

            returns_done = all(r["status"] in ("closed", "expired", "cancelled") for r in order.get("returns", []))
            return captured_all and returns_done and (waiting or done)

        wait_for_order(self.api, order_id, resting, timeout=90)


def _open(line: dict[str, Any]) -> int:
    return int(line["quantity"]) - sum(int(line.get(k, 0)) for k in ("shipped", "rejected", "cancelled"))


def _returnable(line: dict[str, Any]) -> int:
    q = line["quantities"]
    return int(q.get("shipped", 0)) - int(q.get("returned", 0)) - int(q.get("return_initiated", 0))


def test_the_order_lifecycle_over_http_keeps_every_invariant(api: Api, reading_the_stack: None) -> None:
    for location, (lat, lon) in zip(LOCATIONS, [(52.45, 13.52), (51.51, 7.47)], strict=True):
        put_location(api, location, lat=lat, lon=lon)
    OrderLifecycleOverHttp.api = api
    run = OrderLifecycleOverHttp.TestCase
    # Bounded in the suite; MODEL_EXAMPLES and MODEL_STEPS run it longer.
    run.settings = settings(
        max_examples=int(os.environ.get("MODEL_EXAMPLES", "3")),
        stateful_step_count=int(os.environ.get("MODEL_STEPS", "8")),
        deadline=None,
        derandomize=True,
        database=None,
        # The stack keeps what earlier examples did: a replay would not replay, so no shrinking.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    run().runTest()
