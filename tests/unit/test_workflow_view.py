"""The order's workflow graph: states and edges from the definition, the place from the history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from functions.ops.logic.workflow_view import graph_of, replay, state_machine_arn
from infra.manifest import ROOT


def test_graph_has_every_state_of_the_lifecycle_with_its_transitions() -> None:
    definition = json.loads((ROOT / "infra" / "statemachines" / "order_lifecycle.asl.json").read_text())
    states, edges = graph_of(definition)
    names = {s.name for s in states}
    assert {"AdvanceOrder", "NextOrderStep", "FulfillEach", "AwaitFulfillment", "SettleFulfillmentOrder"} <= names
    assert [s.name for s in states if s.start and s.parent is None] == [definition["StartAt"]]
    inner = {s.name: s.parent for s in states if s.parent}
    assert inner["AwaitEachFulfillment"] == "FulfillEach" and "AwaitFulfillment" not in inner
    kinds = {(e.source, e.target): e.kind for e in edges}
    assert kinds[("FulfillEach", "AwaitEachFulfillment")] == "iteration"
    assert kinds[("AdvanceOrder", "SettleFulfillmentOrder")] == "next"
    assert kinds[("NextOrderStep", "FulfillEach")] == "default"
    assert kinds[("AdvanceOrder", "ReadParkedOutcome")] == "catch"
    assert "catch" in {e.kind for e in edges} and "choice" in {e.kind for e in edges}
    # Every edge joins two known states.
    assert all(e.source in names and e.target in names for e in edges)


def _event(kind: str, name: str, at: datetime) -> dict[str, object]:
    details = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
    return {"type": kind, "timestamp": at, details: {"name": name}}


def test_replay_names_the_states_entered_and_not_left() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        {"type": "ExecutionStarted", "timestamp": t},
        _event("TaskStateEntered", "AdvanceOrder", t),
        _event("TaskStateExited", "AdvanceOrder", t + timedelta(seconds=1)),
        _event("MapStateEntered", "FulfillEach", t + timedelta(seconds=2)),
        _event("TaskStateEntered", "AwaitEachFulfillment", t + timedelta(seconds=3)),
        _event("TaskStateEntered", "AwaitEachFulfillment", t + timedelta(seconds=3)),
        _event("TaskStateExited", "AwaitEachFulfillment", t + timedelta(seconds=9)),
    ]
    visited, current = replay(events)
    assert [v.name for v in visited] == ["AdvanceOrder", "FulfillEach", "AwaitEachFulfillment", "AwaitEachFulfillment"]
    assert visited[0].exited_at == (t + timedelta(seconds=1)).isoformat()
    # One of the two iterations still waits.
    assert current == ["FulfillEach", "AwaitEachFulfillment"]


def test_state_machine_arn_of_an_execution() -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:execution:oms-OrderLifecycle:ord_1-abcd1234"
    assert state_machine_arn(arn) == "arn:aws:states:eu-west-1:123456789012:stateMachine:oms-OrderLifecycle"
