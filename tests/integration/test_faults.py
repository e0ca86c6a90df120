"""Faults injected into the real lifecycle on moto: nothing lost, nothing done twice.

Each test injects one fault through a seam the code already has (botocore event hooks on
the shared clients, tests/integration/faults.py; the payment gateway registry's test
double; the local runtime's handler override), lets the order run on through the real
OrderLifecycle, and then checks every invariant of docs/invariants.md
(tests/invariants.py) once the writers are at rest:

- a write whose answer is lost after it committed (a handler that raises after its commit),
- a provider timeout after the capture went through,
- a duplicate SQS delivery,
- a throttled DynamoDB write,
- a lost task token,
- and a concurrent writer between a read and the write that depends on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.allocate.logic.policy import RoutingPolicy, load_policy, save_policy
from functions.changes.logic.cancel import cancel_order
from functions.changes.logic.models import CancelRequest
from functions.fulfill.logic.fulfillment_orders import advance
from functions.fulfill.logic.models import RejectRequest, ShipRequest
from functions.fulfill.logic.rejection import reject
from functions.fulfill.logic.shipping import ship
from functions.fulfill.rules.status import open_units
from functions.fulfill.store import fulfillment_orders_of
from functions.ops.logic.exceptions import retry as retry_exception
from functions.payments.gateways import registry
from functions.payments.gateways.gateway import GatewayUnavailable
from infra.local import moto_patches, runtime
from shared.order.record import find_order_id, load_order
from shared.table import Table
from tests.integration.conftest import stock_up
from tests.integration.faults import client_error, faults
from tests.integration.test_cancel_and_adjust import capture, order_body, released_to_fulfillment, wait_for
from tests.integration.test_invariants_under_races import answered, as_caller
from tests.invariants import Findings, check_order, check_stock

LOCATION = "wh-east"
WMS, AGENT, OPS = as_caller("dev-wms-key"), as_caller("dev-agent-key"), as_caller("dev-ops-key")


def _order(name: str, sku: str, quantity: int = 3) -> tuple[str, dict[str, Any]]:
    """An order of one line, authorized and waiting on its fulfillment order."""
    stock_up({sku: 50}, location_id=LOCATION)
    line = {"sku": sku, "quantity": quantity, "unit_price": 1000, "tax": 190}
    order = capture(order_body(name, lines=[line], promotions=[], shipping=0))
    record = released_to_fulfillment(order["order_id"])
    (fo,) = record.others["FO"]
    return order["order_id"], fo


def _invariants(order_id: str, sku: str) -> Findings:
    found = Findings()
    check_order(order_id, found)
    check_stock([order_id], [(sku, LOCATION)], found)
    return found


def _open_exceptions(order_id: str) -> list[dict[str, Any]]:
    """The order's open process exceptions."""
    items, _ = Table().query("gsi1pk = :pk", {":pk": "EXCEPTIONS#open"}, index="gsi1")
    return [i for i in items if i["order_id"] == order_id]


def _total(order_id: str) -> int:
    record = load_order(order_id)
    assert record is not None
    return int(record.header["totals"]["total"])


def _cancel(order_id: str, lines: list[dict[str, Any]] | None = None) -> tuple[int, Any]:
    request = CancelRequest.model_validate({"reason": "customer asked", **({"lines": lines} if lines else {})})
    status, _, out = answered(lambda: cancel_order(AGENT, order_id, request, preview=False))
    return status, out


def _fo(order_id: str) -> dict[str, Any]:
    (fo,) = fulfillment_orders_of(order_id)
    return fo


# -- a concurrent writer between the cancellation's read of a fulfillment order and its write


def test_a_cancellation_reaches_a_fulfillment_order_written_meanwhile(aws):
    """The soak's finding (seed 20261202): the warehouse accepted the fulfillment order
    between the cancellation's read of it and its write. The change order had already
    taken the units out of the line's ``allocated``; the fulfillment order's cancellation
    failed on its version and was parked as a process exception, so the units stayed open
    there and reserved in stock, and every rejection of them answered 503 (the line had no
    ``allocated`` left to give back) however often it was retried."""
    order_id, fo = _order("FAULT-RACE", "FAULT-RACE")
    with faults() as injected:
        # Just before the fulfillment order's cancellation is written, the warehouse accepts it.
        injected.before(
            "TransactWriteItems",
            lambda: advance(WMS, fo["fo_id"], "accept"),
            mentioning='"fulfillment.cancelled"',
        )
        status, change = _cancel(order_id)
    assert status == 201, change
    assert sum(injected.fired.values()) == 1
    moto_patches.wait_for_streams()
    now = _fo(order_id)
    assert now["status"] == "cancelled", now
    assert [open_units(line) for line in now["lines"]] == [0]
    assert _open_exceptions(order_id) == []
    body = {"reason": "damaged", "lines": [{"line_id": fo["lines"][0]["line_id"], "quantity": 1}]}
    status, _, problem = answered(lambda: reject(WMS, fo["fo_id"], RejectRequest.model_validate(body)))
    assert status == 409, problem  # the fulfillment order is closed: not 503, not 201
    found = _invariants(order_id, "FAULT-RACE")
    assert not found.violations, found.violations


# -- a handler that raises after its write committed


def test_a_follow_up_whose_answer_was_lost_after_its_commit_cancels_nothing_twice(aws):
    """The fulfillment order's cancellation commits, then DynamoDB's answer is lost (a 500
    after the commit). The change order's follow-up is retried: the retry must find the
    units already cancelled there, not cancel more."""
    order_id, fo = _order("FAULT-LOST", "FAULT-LOST")
    line_id = fo["lines"][0]["line_id"]
    with faults() as injected:
        injected.lose_answer("TransactWriteItems", mentioning='"fulfillment.cancelled"')
        status, change = _cancel(order_id, [{"line_id": line_id, "quantity": 1}])
    assert status == 201, change
    assert sum(injected.fired.values()) == 1
    moto_patches.wait_for_streams()
    now = _fo(order_id)
    assert [int(line.get("cancelled", 0)) for line in now["lines"]] == [1]
    assert [open_units(line) for line in now["lines"]] == [2]
    assert _open_exceptions(order_id) == []
    found = _invariants(order_id, "FAULT-LOST")
    assert not found.violations, found.violations


def test_a_ship_whose_answer_was_lost_after_its_commit_ships_nothing_twice(aws):
    """The warehouse ships one unit of three; the transaction commits and its answer is lost,
    so the warehouse sends the same parcel again: it gets the first shipment back, and the
    line has shipped one unit, not two. The same tracking number with other units is 409."""
    order_id, fo = _order("FAULT-SHIP", "FAULT-SHIP")
    line_id = fo["lines"][0]["line_id"]
    request = ShipRequest.model_validate(
        {"carrier": "dhl", "tracking_number": "FAULT-SHIP-1", "lines": [{"line_id": line_id, "quantity": 1}]}
    )
    with faults() as injected:
        injected.lose_answer("TransactWriteItems", mentioning='"shipment.shipped"')
        status, _, _ = answered(lambda: ship(WMS, fo["fo_id"], request))
    assert status >= 500
    assert sum(injected.fired.values()) == 1
    status, _, again = answered(lambda: ship(WMS, fo["fo_id"], request))
    assert status == 201, again
    record = load_order(order_id)
    assert record is not None
    assert [s["shipment_id"] for s in record.others["SHP"]] == [again["shipment_id"]]
    assert int(record.lines[0]["quantities"]["shipped"]) == 1
    assert [int(line.get("shipped", 0)) for line in _fo(order_id)["lines"]] == [1]
    other = ShipRequest.model_validate(
        {"carrier": "dhl", "tracking_number": "FAULT-SHIP-1", "lines": [{"line_id": line_id, "quantity": 2}]}
    )
    status, _, problem = answered(lambda: ship(WMS, fo["fo_id"], other))
    assert status == 409, problem
    moto_patches.wait_for_streams()
    found = _invariants(order_id, "FAULT-SHIP")
    assert not found.violations, found.violations


# -- a provider timeout after the charge went through


class _TimesOutAfterCapturing:
    """The sandbox gateway whose first capture answers a timeout after the money moved."""

    def __init__(self, real: Any, times: int = 1):
        self.real = real
        self.left = times
        self.captures: list[str] = []

    def capture(self, **kwargs: Any) -> Any:
        result = self.real.capture(**kwargs)
        self.captures.append(kwargs["idempotency_key"])
        if self.left:
            self.left -= 1
            raise GatewayUnavailable("the provider did not answer in time (the capture went through)")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def slow_provider() -> Iterator[_TimesOutAfterCapturing]:
    gateway = _TimesOutAfterCapturing(registry.gateway_for("sandbox"))
    registry.use_gateway("sandbox", gateway)  # type: ignore[arg-type]
    yield gateway
    registry.use_gateway("sandbox", None)


@pytest.mark.slow
def test_a_provider_timeout_after_the_capture_charges_once(aws, slow_provider: _TimesOutAfterCapturing):
    order_id, fo = _order("FAULT-CAPTURE", "FAULT-CAPTURE")
    status, _, shipment = answered(
        lambda: ship(WMS, fo["fo_id"], ShipRequest(carrier="dhl", tracking_number="FAULT-CAPTURE-1"))
    )
    assert status == 201, shipment

    def invoiced() -> Any:
        record = load_order(order_id)
        return record if record and record.others.get("INV") else None

    record = wait_for(invoiced, timeout=60)
    # The workflow's retry asked again with the same idempotency key and found the capture.
    assert len(slow_provider.captures) == 2 and len(set(slow_provider.captures)) == 1
    (invoice,) = record.others["INV"]
    (payment,) = record.others["PAY"]
    assert int(invoice["amount"]) == _total(order_id) == int(payment["captured"])
    at_provider = slow_provider.real.ledger(payment["reference"])
    assert at_provider is not None and int(at_provider["captured"]) == _total(order_id)
    found = _invariants(order_id, "FAULT-CAPTURE")
    assert not found.violations, found.violations


# -- a throttled DynamoDB write


@pytest.mark.slow
@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_a_throttled_reservation_is_retried_by_its_step(aws, code: str):
    """The allocation's reservation transaction is throttled twice (past the SDK's own
    retries): AdvanceOrder fails with Throttled, the workflow's Retry runs it again, and
    the order is allocated exactly once."""
    sku = f"FAULT-THROTTLE-{code[:8].upper()}"
    stock_up({sku: 50}, location_id=LOCATION)
    with faults() as injected:
        injected.throttle("TransactWriteItems", mentioning=('"ALLOC#', f'"{sku}"'), times=2, code=code)
        order = capture(order_body(f"T-{code[:8]}", lines=[{"sku": sku, "quantity": 3, "unit_price": 1000}]))
        record = released_to_fulfillment(order["order_id"])
    assert sum(injected.fired.values()) == 2
    (line,) = record.lines
    assert int(line["quantities"]["allocated"]) == 3
    assert len([a for a in record.others["ALLOC"] if a.get("status") == "reserved"]) == 1
    found = _invariants(order["order_id"], sku)
    assert not found.violations, found.violations


# -- a failure late in the composite step: the whole step runs again


def _advanced_once(order_id: str, sku: str) -> Any:
    """The order released once: one allocation round, one authorization, one fulfillment order."""
    record = released_to_fulfillment(order_id)
    assert int(record.header["allocation_round"]) == 1
    assert len([a for a in record.others["ALLOC"] if a.get("status") == "reserved"]) == 1
    assert len([p for p in record.others["PAY"] if p["status"] == "authorized"]) == 1
    assert len(record.others["FO"]) == 1
    found = _invariants(order_id, sku)
    assert not found.violations, found.violations
    return record


def _step_attempts(order: dict[str, Any], step: str) -> int:
    """How many times the order's execution ran ``step``'s function (a Retry runs it again)."""
    sfn = boto3.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=order["workflow"]["execution_arn"], maxResults=1000)["events"]
    attempts, current = 0, None
    for event in events:
        if "stateEnteredEventDetails" in event:
            current = event["stateEnteredEventDetails"]["name"]
        # A Lambda task, or a service integration task (AdvanceOrder waits for a task token).
        elif event["type"] in ("LambdaFunctionScheduled", "TaskScheduled") and current == step:
            attempts += 1
    return attempts


@pytest.mark.slow
def test_a_payment_provider_failing_twice_in_the_step_allocates_and_authorizes_once(aws):
    """The sandbox's ``tok_transient`` refuses the first two authorizations as unavailable:
    AdvanceOrder fails after its allocation committed, the workflow's Retry runs the whole
    step again, and the re-run allocates nothing more and authorizes once."""
    sku = "FAULT-ADVANCE-PAY"
    stock_up({sku: 50}, location_id=LOCATION)
    body = order_body("FAULT-ADVANCE-PAY", lines=[{"sku": sku, "quantity": 3, "unit_price": 1000}])
    order = capture({**body, "payment": {"provider": "sandbox", "token": "tok_transient"}})
    _advanced_once(order["order_id"], sku)
    assert _step_attempts(order, "AdvanceOrder") == 3


@pytest.mark.slow
def test_a_throttled_release_runs_the_step_again_without_a_second_allocation_or_charge(aws):
    """The fulfillment order's transaction is throttled twice (after the allocation and the
    authorization committed): the retried step finds both done and releases once."""
    sku = "FAULT-ADVANCE-REL"
    stock_up({sku: 50}, location_id=LOCATION)
    with faults() as injected:
        injected.throttle("TransactWriteItems", mentioning='"fulfillment.released"', times=2)
        order = capture(order_body("FAULT-ADVANCE-REL", lines=[{"sku": sku, "quantity": 3, "unit_price": 1000}]))
        _advanced_once(order["order_id"], sku)
    assert sum(injected.fired.values()) == 2
    assert _step_attempts(order, "AdvanceOrder") == 3


# -- a duplicate SQS delivery

ORDER_IMPORT = "functions.channels.handlers.order_import.handler"


@pytest.fixture
def delivered_twice(aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every OrderImport batch is delivered twice, as SQS may (at-least-once)."""
    from functions.channels.handlers import order_import

    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    deliveries: list[int] = []

    def twice(event: dict[str, Any], context: Any) -> Any:
        order_import.handler(json.loads(json.dumps(event)), context)
        deliveries.append(len(event["Records"]))
        return order_import.handler(event, context)

    runtime.override(ORDER_IMPORT, twice)
    yield deliveries
    runtime.override(ORDER_IMPORT, None)


def test_a_duplicate_sqs_delivery_captures_each_order_once(delivered_twice: list[int]):
    from tests.integration.test_capture_api import order_body as capture_body
    from tests.integration.test_order_imports import completed, post_file

    rows = [capture_body(f"DUP-{n}") for n in range(3)]
    status, started = post_file("\n".join(json.dumps(r) for r in rows), "application/x-ndjson")
    assert status == 202, started
    view = completed(started["import_id"], timeout=60)
    assert delivered_twice, "the consumer never ran"
    assert view["counts"] == {"rows": 3, "created": 3, "exists": 0, "failed": 0}
    found = Findings()
    for n in range(3):
        order_id = find_order_id("web", f"DUP-{n}")
        assert order_id is not None
        check_order(order_id, found)
    assert not found.violations, found.violations


# -- a lost task token


@pytest.fixture
def short_fulfillment_wait(aws) -> Iterator[None]:
    policy = load_policy()
    save_policy(RoutingPolicy.model_validate(policy.model_dump() | {"fulfillment_timeout_seconds": 4}))
    yield


@pytest.mark.slow
def test_a_lost_task_token_puts_the_order_on_hold_and_the_operators_retry_completes_it(short_fulfillment_wait):
    """The shipment's callback never reaches the waiting execution (Step Functions no longer
    knows the token). The wait times out into a process exception; an operator's retry
    starts a new execution that finds the shipment and captures it."""
    order_id, fo = _order("FAULT-TOKEN", "FAULT-TOKEN")

    def token_lost() -> None:
        raise client_error("TaskDoesNotExist", "SendTaskSuccess", "Task does not exist anymore")

    with faults("stepfunctions") as injected:
        injected.before("SendTaskSuccess", token_lost, times=5)
        status, _, shipment = answered(
            lambda: ship(WMS, fo["fo_id"], ShipRequest(carrier="dhl", tracking_number="FAULT-TOKEN-1"))
        )
        assert status == 201, shipment
        assert sum(injected.fired.values()) >= 1
        exception = wait_for(lambda: next(iter(_open_exceptions(order_id)), None), timeout=60)
    assert exception["step"] == "Fulfillment"
    assert load_order(order_id).header["status"] == "on_hold"  # type: ignore[union-attr]
    assert not load_order(order_id).others.get("INV")  # type: ignore[union-attr]

    retry_exception(OPS, exception["exc_id"], note="the warehouse shipped; resume")

    def completed() -> Any:
        record = load_order(order_id)
        return record if record and record.header.get("workflow", {}).get("status") == "SUCCEEDED" else None

    record = wait_for(completed, timeout=60)
    (invoice,) = record.others["INV"]
    assert int(invoice["amount"]) == _total(order_id)
    found = _invariants(order_id, "FAULT-TOKEN")
    assert not found.violations, found.violations
