"""What AdvanceOrder answers the state machine: each outcome carries what its next state reads."""

from __future__ import annotations

import json

from functions.lifecycle.rules.steps import Advance, Next
from infra.manifest import ROOT

_BASE = {
    "allocated_units": 2,
    "backordered_units": 0,
    "backorder_timeout_seconds": 600,
    "fulfillment_timeout_seconds": 3600,
}


def test_waiting_for_stock_carries_the_stock_seen_and_the_wait() -> None:
    state = Advance(Next.WAIT_FOR_STOCK, **_BASE | {"backordered_units": 1}, stock_seen={"SKU-1": 0}).as_state()
    assert state["next"] == "wait_for_stock"
    assert state["stock_seen"] == {"SKU-1": 0} and state["backorder_timeout_seconds"] == 600
    assert "hold_timeout_seconds" not in state and "payment_id" not in state


def test_a_held_order_carries_the_time_to_its_earliest_expiry() -> None:
    state = Advance(Next.AWAIT_HOLD_RELEASE, **_BASE, hold_timeout_seconds=120).as_state()
    assert state["next"] == "await_hold_release" and state["hold_timeout_seconds"] == 120
    assert "stock_seen" not in state


def test_a_released_order_carries_the_fulfillment_orders_to_wait_on() -> None:
    state = Advance(
        Next.FULFILL, **_BASE, payment_id="pay_1", authorized=999, open=[{"fo_id": "fo_1"}], created=1
    ).as_state()
    assert state["next"] == "fulfill" and state["open"] == [{"fo_id": "fo_1"}]
    assert state["fulfillment_timeout_seconds"] == 3600 and state["created"] == 1
    assert json.loads(json.dumps(state)) == state  # the state machine's payload is JSON


def test_the_state_machine_routes_every_outcome() -> None:
    """NextOrderStep names each outcome but the default (fulfill), and each wait reads the step's answer."""
    definition = json.loads((ROOT / "infra" / "statemachines" / "order_lifecycle.asl.json").read_text())
    states = definition["States"]
    assert definition["StartAt"] == "AdvanceOrder" and states["AdvanceOrder"]["ResultPath"] == "$.step"
    choice = states["NextOrderStep"]
    routes = {c["StringEquals"]: c["Next"] for c in choice["Choices"] if c["Variable"] == "$.step.next"}
    assert routes == {"wait_for_stock": "WaitForStock", "await_hold_release": "AwaitHoldRelease"}
    assert choice["Default"] == "FulfillEach" and Next.FULFILL.value not in routes
    assert set(routes) | {Next.FULFILL.value} == {n.value for n in Next}
    assert states["WaitForStock"]["TimeoutSecondsPath"] == "$.step.backorder_timeout_seconds"
    assert states["AwaitHoldRelease"]["TimeoutSecondsPath"] == "$.step.hold_timeout_seconds"
    assert states["FulfillEach"]["ItemsPath"] == "$.step.open"
    catches = {c["ErrorEquals"][0]: c["Next"] for c in states["AdvanceOrder"]["Catch"]}
    assert catches == {"PaymentDeclined": "ReleaseDeclinedOrder", "States.ALL": "ReleaseReservations"}
