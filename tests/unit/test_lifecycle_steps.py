"""What AdvanceOrder answers the state machine: each outcome carries what its next state reads."""

from __future__ import annotations

import json
from typing import Any

from functions.fulfill.rules.waits import BRANCHES, ORDER_OPEN_BRANCH, READY_FOR_PICKUP_BRANCH, branch_of
from functions.lifecycle.rules.steps import (
    Advance,
    AwaitingHoldRelease,
    AwaitingStock,
    FulfillmentContinues,
    Next,
    RerouteRejectedUnits,
    SeveralFulfillmentOrders,
)
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


def test_an_order_released_to_several_fulfillment_orders_branches_to_wait_on_each() -> None:
    several = Advance(Next.FULFILL, **_BASE, open=[{"fo_id": "fo_1"}, {"fo_id": "fo_2"}])
    branch = several.branch()
    assert isinstance(branch, SeveralFulfillmentOrders)
    assert json.loads(str(branch))["open"] == [{"fo_id": "fo_1"}, {"fo_id": "fo_2"}]
    # Nothing left open (everything cancelled meanwhile) also goes through the Map, which ends at once.
    assert isinstance(Advance(Next.FULFILL, **_BASE, open=[]).branch(), SeveralFulfillmentOrders)


def test_the_state_machine_routes_every_outcome() -> None:
    """An order released to one fulfillment order is waited on by AdvanceOrder's own task;
    any other outcome branches, its answer is read back from the error's cause, and
    NextOrderStep names each wait (several fulfillment orders by default)."""
    definition = json.loads((ROOT / "infra" / "statemachines" / "order_lifecycle.asl.json").read_text())
    states = definition["States"]
    advance = states["AdvanceOrder"]
    assert definition["StartAt"] == "AdvanceOrder"
    assert advance["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert advance["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    # The wait's timeout must be known when the task starts: the execution's input carries it.
    assert advance["TimeoutSecondsPath"] == "$.fulfillment_timeout_seconds"
    assert advance["ResultPath"] == "$.update" and advance["Next"] == "SettleFulfillmentOrder"
    choice = states["NextOrderStep"]
    routes = {c["StringEquals"]: c["Next"] for c in choice["Choices"] if c["Variable"] == "$.step.next"}
    assert routes == {"wait_for_stock": "WaitForStock", "await_hold_release": "AwaitHoldRelease"}
    assert set(routes) | {Next.FULFILL.value} == {n.value for n in Next}
    assert states["WaitForStock"]["TimeoutSecondsPath"] == "$.step.backorder_timeout_seconds"
    assert states["AwaitHoldRelease"]["TimeoutSecondsPath"] == "$.step.hold_timeout_seconds"
    assert choice["Default"] == "FulfillEach" and states["FulfillEach"]["ItemsPath"] == "$.step.open"
    catches = {tuple(c["ErrorEquals"]): c["Next"] for c in advance["Catch"]}
    assert catches == {
        ("PaymentDeclined",): "ReleaseDeclinedOrder",
        (AwaitingStock.__name__, AwaitingHoldRelease.__name__, SeveralFulfillmentOrders.__name__): "ReadParkedOutcome",
        (READY_FOR_PICKUP_BRANCH,): "NoShowDeadline",
        (ORDER_OPEN_BRANCH,): "ReadOpenFulfillment",
        # A wait nobody ended: fulfillment orders exist, so hold the order, release nothing.
        ("States.Timeout",): "HoldForOperator",
        ("States.ALL",): "ReleaseReservations",
    }
    assert (
        states["ReadParkedOutcome"]["Next"] == "ReadParkedStep" and states["ReadParkedStep"]["Next"] == "NextOrderStep"
    )


def test_a_parked_order_branches_with_its_answer_as_the_message() -> None:
    """The answer survives the trip: Lambda's error payload carries str(error) as errorMessage,
    which the two Pass states read back with States.StringToJson."""
    waiting = Advance(Next.WAIT_FOR_STOCK, **_BASE | {"backordered_units": 1}, stock_seen={"SKU-1": 0})
    branch = waiting.branch()
    assert isinstance(branch, AwaitingStock)
    cause = json.dumps({"errorMessage": str(branch), "errorType": type(branch).__name__})
    assert json.loads(json.loads(cause)["errorMessage"]) == waiting.as_state()
    held = Advance(Next.AWAIT_HOLD_RELEASE, **_BASE, hold_timeout_seconds=60).branch()
    assert isinstance(held, AwaitingHoldRelease) and json.loads(str(held))["hold_timeout_seconds"] == 60
    assert Advance(Next.FULFILL, **_BASE, open=[{"fo_id": "fo_1"}]).branch() is None


def _common_way(states: dict[str, Any], start: str) -> list[str]:
    """The states an execution enters when every task answers (no Catch taken): Next, a
    Choice's Default, and a Map's iteration before the Map's Next."""
    way: list[str] = []
    name: str | None = start
    while name:
        state = states[name]
        way.append(name)
        if state["Type"] == "Map":
            processor = state["ItemProcessor"]
            way += _common_way(processor["States"], processor["StartAt"])
        name = state.get("Next") or state.get("Default")
    return way


def test_an_order_shipped_in_one_parcel_takes_two_transitions() -> None:
    """Every state entered is a paid transition: the common way has no Choice, no Map and
    no wait state of its own."""
    definition = json.loads((ROOT / "infra" / "statemachines" / "order_lifecycle.asl.json").read_text())
    states = definition["States"]
    assert _common_way(states, definition["StartAt"]) == ["AdvanceOrder", "SettleFulfillmentOrder"]
    assert states["SettleFulfillmentOrder"]["End"] is True and states["FulfillEach"]["End"] is True
    iteration = states["FulfillEach"]["ItemProcessor"]
    each = _common_way(iteration["States"], iteration["StartAt"])
    assert each == ["AwaitEachFulfillment", "SettleEachFulfillmentOrder"]


# The single fulfillment order's later steps at the top level, and their twins in the Map's iteration.
_TWINS = {
    "AwaitFulfillment": "AwaitEachFulfillment",
    "AwaitPickup": "AwaitEachPickup",
    "NoShowDeadline": "EachNoShowDeadline",
    "CancelUncollectedPickup": "CancelEachUncollectedPickup",
    "CaptureAndAwait": "CaptureEachAndAwait",
    "SettleFulfillmentOrder": "SettleEachFulfillmentOrder",
}


def _caught(state: dict[str, Any]) -> dict[str, str]:
    return {error: c["Next"] for c in state.get("Catch", []) for error in c["ErrorEquals"]}


def test_every_branch_a_task_raises_or_is_sent_is_caught_where_it_can_arrive() -> None:
    definition = json.loads((ROOT / "infra" / "statemachines" / "order_lifecycle.asl.json").read_text())
    states = definition["States"]
    iteration = states["FulfillEach"]["ItemProcessor"]["States"]
    # News about a fulfillment order reaches whichever wait holds the token: AdvanceOrder's
    # own, AwaitFulfillment after part of it shipped, or the pickup wait.
    for wait in ("AdvanceOrder", "AwaitFulfillment"):
        assert _caught(states[wait])[READY_FOR_PICKUP_BRANCH] == "NoShowDeadline"
        assert _caught(states[wait])[ORDER_OPEN_BRANCH] == "ReadOpenFulfillment"
    assert states["ReadOpenFulfillment"]["Next"] == "CaptureAndAwait"
    each = _caught(iteration["AwaitEachFulfillment"])
    assert each == {READY_FOR_PICKUP_BRANCH: "EachNoShowDeadline", ORDER_OPEN_BRANCH: "CaptureEachAndAwait"}
    for steps, name in ((states, lambda n: n), (iteration, _TWINS.__getitem__)):
        assert set(BRANCHES) <= set(_caught(steps[name("AwaitPickup")]))
        assert steps[name("CaptureAndAwait")]["Next"] == name("AwaitFulfillment")
        assert steps[name("AwaitPickup")]["TimeoutSecondsPath"] == "$.update.no_show_after_seconds"
        assert steps[name("NoShowDeadline")]["Parameters"]["update.$"] == "States.StringToJson($.ready.Cause)"
        # No branch is retried as a transient failure.
        retried = {e for r in steps[name("SettleFulfillmentOrder")]["Retry"] for e in r["ErrorEquals"]}
        assert not retried & {RerouteRejectedUnits.__name__, FulfillmentContinues.__name__}
    # The settle step's branches go back to AdvanceOrder, ahead of the catch-all that holds
    # the order: from the single step itself, from the Map for its iterations.
    for review in (states["SettleFulfillmentOrder"]["Catch"], states["FulfillEach"]["Catch"]):
        assert review[0]["ErrorEquals"] == [RerouteRejectedUnits.__name__, FulfillmentContinues.__name__]
        assert review[0]["Next"] == "AdvanceOrder"
        assert review[-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "HoldForOperator"}
    # Anything else failing after release holds the order, as the Map's catch-all does for its iterations.
    for single in ("AwaitFulfillment", "AwaitPickup", "CancelUncollectedPickup", "CaptureAndAwait"):
        assert _caught(states[single])["States.ALL"] == "HoldForOperator"
    assert not any("States.ALL" in _caught(step) for step in iteration.values())


def test_the_single_way_reads_its_fulfillment_order_and_timeout_where_every_path_leaves_them() -> None:
    """Past AdvanceOrder the top-level steps find the fulfillment order in ``$.update`` (a
    wait's news, or the branch's cause read back), and every Pass that rebuilds the state
    keeps the execution's ``fulfillment_timeout_seconds`` for the next wait."""
    definition = json.loads((ROOT / "infra" / "statemachines" / "order_lifecycle.asl.json").read_text())
    states = definition["States"]
    for name in ("AwaitFulfillment", "AwaitPickup"):
        assert states[name]["Parameters"]["Payload"]["fo_id.$"] == "$.update.fo_id"
    for name in ("CaptureAndAwait", "CancelUncollectedPickup", "SettleFulfillmentOrder"):
        assert states[name]["Parameters"]["fo_id.$"] == "$.update.fo_id"
    # The pickup wait's own news goes elsewhere, so ``$.update`` still names the order.
    assert states["AwaitPickup"]["ResultPath"] == "$.pickup"
    assert {c["ResultPath"] for c in states["AwaitPickup"]["Catch"]} == {"$.timeout", "$.pickup", "$.error"}
    assert states["AwaitFulfillment"]["ResultPath"] == states["AdvanceOrder"]["ResultPath"] == "$.update"
    assert states["AwaitFulfillment"]["TimeoutSecondsPath"] == "$.fulfillment_timeout_seconds"
    for name, state in states.items():
        if state["Type"] == "Pass":
            assert state["Parameters"]["fulfillment_timeout_seconds.$"] == "$.fulfillment_timeout_seconds", name


def test_the_single_way_and_the_map_iteration_run_the_same_tasks() -> None:
    """The two copies differ only in names, where they read the fulfillment order and its
    news, and their catch-alls."""
    definition = json.loads((ROOT / "infra" / "statemachines" / "order_lifecycle.asl.json").read_text())
    states = definition["States"]
    iteration = states["FulfillEach"]["ItemProcessor"]["States"]
    assert set(iteration) == set(_TWINS.values())
    single_of = {twin: single for single, twin in _TWINS.items()}
    for single, twin in _TWINS.items():
        for field in ("Type", "Resource", "Retry"):
            assert states[single].get(field) == iteration[twin].get(field), (single, field)
        assert states[single].get("Next") == single_of.get(iteration[twin].get("Next", ""))
    assert (
        states["AwaitFulfillment"]["Parameters"]["FunctionName"]
        == iteration["AwaitEachFulfillment"]["Parameters"]["FunctionName"]
    )


def test_news_about_a_fulfillment_order_takes_its_branch() -> None:
    open_order = {"status": "accepted"}
    closed = {"status": "fulfilled"}
    assert branch_of("ready_for_pickup", {"status": "ready_for_pickup"}) == READY_FOR_PICKUP_BRANCH
    assert branch_of("shipped", open_order) == ORDER_OPEN_BRANCH  # part shipped, the rest waits
    assert branch_of("cancelled", open_order) == ORDER_OPEN_BRANCH
    assert branch_of("shipped", closed) is None  # the common way: capture, and the wait is over
    assert branch_of("rejected", open_order) is None  # ends the wait so the rejected units are re-routed
    assert branch_of("picked_up", {"status": "picked_up"}) is None
