"""A cancellation's release of stock against the release to fulfillment and another
cancellation, each interleaved at the one point where the race lies: between one writer's
read and its write.

The cancellation takes units out of ``allocated`` when it commits, then gives back the
stock its allocations held: those on no fulfillment order here, the rest by cancelling
fulfillment-order lines. An allocation handed to a fulfillment order, or released by
another change, after that read must not be released from the stale read, and a
fulfillment order must not take units a cancellation released after the release's read.
"""

from __future__ import annotations

from typing import Any

import pytest

import functions.changes.logic.stock_release as stock_release
import functions.fulfill.logic.release as release
from functions.allocate.logic.allocation import allocate_order
from functions.changes.logic.cancel import cancel_order
from functions.changes.logic.models import CancelLineIn, CancelRequest
from functions.fulfill.logic.release import release_to_fulfillment
from shared.api.caller import caller_from_context
from shared.order.record import OrderRecord, load_order
from shared.process_exceptions import list_exceptions
from tests.integration.conftest import caller_context, stock_up
from tests.integration.test_capture_api import order_body, post
from tests.invariants import Findings, check_order

SKU = "MUG-RELEASE-RACE"


@pytest.fixture
def allocated(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """An order of one line of 3 units, allocated and on no fulfillment order yet (the
    workflow is left out: each test plays its steps itself)."""
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    stock_up({SKU: 10})
    status, _, order = post(order_body("RELEASE-RACE", lines=[{"sku": SKU, "quantity": 3, "unit_price": 999}]))
    assert status == 201, order
    assert allocate_order(order["order_id"]).allocated_units == 3
    return str(order["order_id"])


def _cancel_one(order_id: str) -> dict[str, Any]:
    record = load_order(order_id)
    assert record is not None
    line_id = record.lines[0]["line_id"]
    request = CancelRequest(reason="changed mind", lines=[CancelLineIn(line_id=line_id, quantity=1)])
    return cancel_order(caller_from_context(caller_context("dev-agent-key")), order_id, request, preview=False)


def _after_first_read(monkeypatch: pytest.MonkeyPatch, module: Any, meanwhile: Any) -> list[bool]:
    """``module.load_order`` runs ``meanwhile`` once, right after its first read returns."""
    original = module.load_order
    ran: list[bool] = []

    def read_then_race(order_id: str, *args: Any, **kwargs: Any) -> OrderRecord | None:
        record = original(order_id, *args, **kwargs)
        if not ran:
            ran.append(True)
            meanwhile()
        return record

    monkeypatch.setattr(module, "load_order", read_then_race)
    return ran


def _consistent(order_id: str) -> OrderRecord:
    found = Findings()
    record = check_order(order_id, found)
    assert not found.violations, found.violations
    exceptions, _ = list_exceptions("open", limit=100, cursor=None)
    assert not [e for e in exceptions if e.get("order_id") == order_id]
    return record


def _on_fulfillment(record: OrderRecord) -> int:
    return sum(
        int(line["quantity"]) - sum(int(line.get(k, 0)) for k in ("shipped", "rejected", "cancelled"))
        for fo in record.others.get("FO", [])
        for line in fo["lines"]
    )


# (the module whose read is raced, what runs right after that read, the writer that reads)
RELEASE_RACES = {
    # A fulfillment order takes no unit a cancellation released after its read.
    "release then cancel": (release, _cancel_one, release_to_fulfillment),
    # A cancellation releases no allocation a fulfillment order took after its read: the unit
    # is cancelled on the fulfillment order instead.
    "cancel then release": (stock_release, release_to_fulfillment, _cancel_one),
}


@pytest.mark.parametrize("race", RELEASE_RACES.values(), ids=RELEASE_RACES.keys())
def test_no_unit_is_both_released_by_a_cancellation_and_on_a_fulfillment_order(
    allocated: str, monkeypatch: pytest.MonkeyPatch, race: tuple[Any, Any, Any]
) -> None:
    module, meanwhile, writer = race
    ran = _after_first_read(monkeypatch, module, lambda: meanwhile(allocated))
    writer(allocated)
    assert ran
    record = _consistent(allocated)
    assert _on_fulfillment(record) == 2


def test_two_cancellations_releasing_one_allocation_both_go_through(
    allocated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second follow-up finds the allocation changed by the first: it runs again on
    what the table holds rather than ending in a process exception."""
    ran = _after_first_read(monkeypatch, stock_release, lambda: _cancel_one(allocated))
    _cancel_one(allocated)
    assert ran
    record = _consistent(allocated)
    assert record.lines[0]["quantities"]["cancelled"] == 2
    assert record.lines[0]["quantities"]["allocated"] == 1
