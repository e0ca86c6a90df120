"""Cross-domain invariants when two domains write the same order at the same instant.

Each trial runs the real OrderLifecycle on moto and releases two threads with a barrier,
so the two requests read the same state and race to commit. The threads call the use
cases the HTTP handlers call, answered as the handlers answer (201, or the problem of the
domain error): Powertools keeps the current event of a resolver in a class attribute, so
two handlers on threads of one process would read each other's request, which Lambda
(one invocation per process at a time) never does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from functions.changes.logic.adjust import adjust_order
from functions.changes.logic.cancel import cancel_order
from functions.changes.logic.models import AdjustmentRequest, CancelRequest
from functions.changes.rules.figures import order_figures
from functions.fulfill.logic.models import ShipRequest
from functions.fulfill.logic.shipping import ship
from shared.api.caller import Caller, caller_from_context
from shared.api.problems import from_domain_error
from shared.errors import DomainError
from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord, load_order
from tests.integration.conftest import caller_context, stock_up
from tests.integration.test_cancel_and_adjust import capture, order_body, released_to_fulfillment, wait_for

LOCATION = "wh-east"
TRIALS = 5
AGENT = "dev-agent-key"
# One line of 3 units at 9.99 with 4.98 tax and 0 shipping: 34.95 in all.
LINE = {"sku": "MUG-RACE", "quantity": 3, "unit_price": 999, "tax": 498}


def as_caller(key: str) -> Caller:
    return caller_from_context(caller_context(key))


def answered(action: Callable[[], Any]) -> tuple[int, dict[str, str], Any]:
    """What the HTTP handler answers for a use case: 201 with its result, or the problem
    (problem+json) of the domain error it raised."""
    try:
        return 201, {"Content-Type": "application/json"}, action()
    except DomainError as err:
        response = from_domain_error(err, None)
        body = response.body if isinstance(response.body, str) else json.dumps(response.body)
        return err.status, {"Content-Type": str(response.content_type)}, json.loads(body)


def _ship(fo_id: str, tracking: str) -> tuple[int, dict[str, str], Any]:
    request = ShipRequest(carrier="dhl", tracking_number=tracking)
    return answered(lambda: ship(as_caller("dev-wms-key"), fo_id, request))


def _cancel(order_id: str) -> tuple[int, dict[str, str], Any]:
    request = CancelRequest(reason="changed mind")
    return answered(lambda: cancel_order(as_caller(AGENT), order_id, request, preview=False))


def _appease(order_id: str, amount: int) -> tuple[int, dict[str, str], Any]:
    request = AdjustmentRequest(amount=amount, reason="late delivery")
    return answered(lambda: adjust_order(as_caller(AGENT), order_id, request, preview=False))


def _race(*actions: Any) -> list[tuple[int, dict[str, str], Any]]:
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = actions[index]()
        except Exception as err:  # a crash is an answer too: the assertions name it
            results[index] = (500, {}, repr(err))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _money(record: OrderRecord) -> tuple[int, int, int]:
    """(captured, refunded including pending, the order's current total)."""
    payments = [p for p in record.others.get("PAY", []) if p.get("status") != "failed"]
    captured = sum(int(p.get("captured", 0)) for p in payments)
    refunded = sum(int(p.get("refunded", 0)) + int(p.get("refund_pending", 0)) for p in payments)
    return captured, refunded, order_figures(record)["total"]


def _settled(order_id: str, shipped_units: int) -> OrderRecord | None:
    """The order once its money follows what shipped: captured on shipment, refunded or
    released on cancellation."""
    record = load_order(order_id)
    assert record is not None
    captured, refunded, total = _money(record)
    shipped = sum(LineQuantities.of(line).shipped for line in record.lines)
    if shipped != shipped_units:
        return None
    return record if captured - refunded == total else None


@pytest.mark.slow
def test_a_cancel_and_a_shipment_of_the_same_units_never_both_win(aws):
    stock_up({"MUG-RACE": 10 * TRIALS}, location_id=LOCATION)
    outcomes = []
    for trial in range(TRIALS):
        order = capture(order_body(f"RACE-{trial}", lines=[LINE], promotions=[], shipping=0))
        assert order["totals"]["total"] == 3495
        order_id = order["order_id"]
        record = released_to_fulfillment(order_id)
        fo_id = record.others["FO"][0]["fo_id"]

        cancelled, shipped = _race(
            lambda order_id=order_id: _cancel(order_id),
            lambda fo_id=fo_id, trial=trial: _ship(fo_id, f"TRK-RACE-{trial}"),
        )
        statuses = (cancelled[0], shipped[0])
        outcomes.append(statuses)
        assert statuses in {(201, 409), (409, 201)}, (trial, cancelled, shipped)
        loser = cancelled if statuses[0] == 409 else shipped
        assert loser[1]["Content-Type"] == "application/problem+json", loser

        shipped_units = 3 if shipped[0] == 201 else 0
        settled = wait_for(lambda order_id=order_id, n=shipped_units: _settled(order_id, n), timeout=30)
        line = LineQuantities.of(settled.lines[0])
        assert line.consistent(), line
        assert (line.shipped, line.cancelled) == ((3, 0) if shipped_units else (0, 3))
        captured, refunded, total = _money(settled)
        assert captured - refunded == total == (3495 if shipped_units else 0)
        assert captured - refunded >= 0
    assert len(outcomes) == TRIALS


@pytest.mark.slow
def test_appeasements_cannot_take_the_refund_a_received_return_is_owed(aws, monkeypatch: pytest.MonkeyPatch):
    from functions.returns.logic import receive as receiving
    from shared.workflow import resume_task
    from tests.integration.test_returns import post_return, receive, refunded_to, ship_everything

    # The return's execution is resumed only after the appeasements: they meet the receipt
    # in the window between its commit and its refund, every time.
    held_back: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(receiving, "resume_task", lambda token, output: held_back.append((token, output)) or True)

    stock_up({"BOOTS-42": 10}, location_id=LOCATION)
    boots = {"sku": "BOOTS-42", "quantity": 2, "unit_price": 5000}
    order = capture(order_body("APPEASE-RACE", lines=[boots], promotions=[], shipping=0))
    order_id = order["order_id"]
    assert order["totals"]["total"] == 10000
    record = ship_everything(order_id)
    line = record.lines[0]["line_id"]
    status, _, rma = post_return(order_id, {"lines": [{"line_id": line, "quantity": 1, "reason": "defective"}]})
    assert status == 201, rma
    owed = rma["expected_refund"]
    assert owed > 0
    wait_for(lambda: any(r.get("task_token") for r in load_order(order_id).others.get("RET", [])))
    status, _, received = receive(rma["return_id"], [{"line_id": line, "quantity": 1, "condition": "resellable"}])
    assert status == 200, received

    # 40 % of the order, twice, at once
    answers = _race(lambda: _appease(order_id, 4000), lambda: _appease(order_id, 4000))
    statuses = sorted(a[0] for a in answers)
    left = 10000 - owed  # what the received return leaves to give away
    assert 4000 <= left < 8000
    assert statuses == [201, 409], answers
    for status, headers, body in answers:
        if status != 201:
            assert status in (409, 422) and headers["Content-Type"] == "application/problem+json", body
    accepted = 4000 * statuses.count(201)
    assert accepted <= left

    for token, output in held_back:
        resume_task(token, output)
    refunded_to(rma["return_id"], owed)
    settled = load_order(order_id)
    captured, refunded, total = _money(settled)
    assert refunded == owed + accepted
    assert total >= 0 and captured - refunded == total
    assert not settled.header.get("refund_reserved")
