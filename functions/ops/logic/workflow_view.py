"""An order's workflow as a graph: the state machine's states and transitions, and where the
order's execution has been and is now, read from the execution's history."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from shared.api.caller import Caller
from shared.aws import client
from shared.errors import NotFound
from shared.order.record import get_header
from shared.workflow import order_execution_arn

# A busy order has a few hundred events; more pages than this would be a runaway loop.
_MAX_HISTORY_PAGES = 20


class WorkflowState(BaseModel):
    name: str
    type: str
    # The Map state a state runs inside (an iteration's states), if any.
    parent: str | None = None
    start: bool = False
    end: bool = False


class WorkflowEdge(BaseModel):
    source: str
    target: str
    # next | choice | default | catch | iteration (a Map state into its first inner state)
    kind: str


class VisitedState(BaseModel):
    name: str
    entered_at: str
    exited_at: str | None = None


class WorkflowGraph(BaseModel):
    order_id: str
    execution_arn: str | None
    status: str
    started_at: str | None = None
    stopped_at: str | None = None
    states: list[WorkflowState]
    edges: list[WorkflowEdge]
    visited: list[VisitedState]
    # The states entered and not yet left (several while a Map's iterations wait).
    current: list[str]


def _walk(states: dict[str, Any], parent: str | None, start_at: str) -> tuple[list[WorkflowState], list[WorkflowEdge]]:
    nodes, edges = [], []
    for name, spec in states.items():
        kind = spec.get("Type", "")
        nodes.append(
            WorkflowState(
                name=name,
                type=kind,
                parent=parent,
                start=name == start_at,
                end=bool(spec.get("End")) or kind in ("Succeed", "Fail"),
            )
        )
        if spec.get("Next"):
            edges.append(WorkflowEdge(source=name, target=spec["Next"], kind="next"))
        for choice in spec.get("Choices", []):
            edges.append(WorkflowEdge(source=name, target=choice["Next"], kind="choice"))
        if spec.get("Default"):
            edges.append(WorkflowEdge(source=name, target=spec["Default"], kind="default"))
        for catch in spec.get("Catch", []):
            edges.append(WorkflowEdge(source=name, target=catch["Next"], kind="catch"))
        inner = spec.get("ItemProcessor") or spec.get("Iterator")
        if inner:
            edges.append(WorkflowEdge(source=name, target=inner["StartAt"], kind="iteration"))
            more_nodes, more_edges = _walk(inner["States"], name, inner["StartAt"])
            nodes.extend(more_nodes)
            edges.extend(more_edges)
    unique = {(e.source, e.target, e.kind): e for e in edges}
    return nodes, list(unique.values())


def graph_of(definition: dict[str, Any]) -> tuple[list[WorkflowState], list[WorkflowEdge]]:
    return _walk(definition.get("States", {}), None, definition.get("StartAt", ""))


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


def replay(events: list[dict[str, Any]]) -> tuple[list[VisitedState], list[str]]:
    """Each state entered, in order, with when it was left; and those entered and not left."""
    visited: list[VisitedState] = []
    open_by_name: dict[str, list[VisitedState]] = {}
    for event in events:
        kind = str(event.get("type", ""))
        at = _iso(event.get("timestamp")) or ""
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            visit = VisitedState(name=name, entered_at=at)
            visited.append(visit)
            open_by_name.setdefault(name, []).append(visit)
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if open_by_name.get(name):
                open_by_name[name].pop(0).exited_at = at
    return visited, list(dict.fromkeys(v.name for v in visited if v.exited_at is None))


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = None
    for _ in range(_MAX_HISTORY_PAGES):
        page = sfn.get_execution_history(
            executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token:
            break
    return events


def state_machine_arn(execution_arn: str) -> str:
    """``...:execution:<machine>:<name>`` -> ``...:stateMachine:<machine>``."""
    head, _, _ = execution_arn.rpartition(":")
    return head.replace(":execution:", ":stateMachine:", 1)


def order_workflow(caller: Caller, order_id: str) -> WorkflowGraph:
    caller.require("channel", "agent", "ops")
    header = get_header(order_id)
    if header is None or not caller.may_see_channel(header["channel"]):
        raise NotFound(f"no order {order_id}")
    workflow = header.get("workflow") or {}
    arn = order_execution_arn(order_id, workflow)
    status = str(workflow.get("status", "PENDING"))
    if not arn:
        return WorkflowGraph(
            order_id=order_id, execution_arn=None, status=status, states=[], edges=[], visited=[], current=[]
        )
    sfn = client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=state_machine_arn(arn))
    states, edges = graph_of(json.loads(machine["definition"]))
    try:
        execution = sfn.describe_execution(executionArn=arn)
        events = _history(sfn, arn)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
            raise
        # Started moments ago and not yet visible, or expired from Step Functions' retention.
        return WorkflowGraph(
            order_id=order_id, execution_arn=arn, status=status, states=states, edges=edges, visited=[], current=[]
        )
    visited, current = replay(events)
    return WorkflowGraph(
        order_id=order_id,
        execution_arn=arn,
        status=str(execution.get("status", status)),
        started_at=_iso(execution.get("startDate")),
        stopped_at=_iso(execution.get("stopDate")),
        states=states,
        edges=edges,
        visited=visited,
        current=current if execution.get("status") == "RUNNING" else [],
    )
