"""Operators' view of process exceptions: list, retry the step, resolve by hand."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from functions.allocate.api import load_policy
from functions.changes.api import FOLLOW_UP_ACTION, rerun_follow_up
from shared.api.caller import Caller
from shared.api.validation import NoControlChars
from shared.errors import Conflict, InvalidInput
from shared.order.state import Reason, WorkflowStatus, record_workflow
from shared.process_exceptions import STATUSES, close_exception, get_exception, list_exceptions
from shared.table import Item
from shared.workflow import start_order_lifecycle


class ExceptionAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(max_length=1000), NoControlChars] = ""


class ExceptionView(BaseModel):
    exc_id: str
    order_id: str
    step: str
    error: str
    cause: str
    status: str
    retry: dict[str, str]
    created_at: str
    updated_at: str
    note: str | None = None


class ExceptionPage(BaseModel):
    items: list[ExceptionView]
    next_cursor: str | None


def _view(item: Item) -> ExceptionView:
    return ExceptionView.model_validate({k: item.get(k) for k in ExceptionView.model_fields if k in item})


def find_exceptions(caller: Caller, *, status: str, limit: int, cursor: str | None) -> ExceptionPage:
    caller.require("ops", "agent")
    if status not in STATUSES:
        raise InvalidInput("unknown status", errors=[{"field": "status", "message": f"one of {', '.join(STATUSES)}"}])
    items, next_cursor = list_exceptions(status, limit=limit, cursor=cursor)
    return ExceptionPage(items=[_view(i) for i in items], next_cursor=next_cursor)


def retry(caller: Caller, exc_id: str, *, note: str) -> ExceptionView:
    """Run the exception's way back; the failed execution is replaced by a new one."""
    caller.require("ops")
    item = get_exception(exc_id)
    way_back = item["retry"]
    if way_back.get("action") == FOLLOW_UP_ACTION or ("change_id" in way_back and "action" not in way_back):
        # A change order's follow-up (exceptions opened before the action was named carry
        # only the change): run again first, closed only once it went through.
        if item["status"] != "open":
            raise Conflict(f"exception {exc_id} is already {item['status']}")
        rerun_follow_up(item["order_id"], way_back["change_id"])
        return _view(close_exception(exc_id, status="retried", note=note))
    closed = close_exception(exc_id, status="retried", note=note)
    if way_back.get("action") == "restart_lifecycle":
        arn = start_order_lifecycle(
            item["order_id"],
            name=f"{item['order_id']}-{exc_id[-8:]}",
            fulfillment_timeout_seconds=load_policy().fulfillment_timeout_seconds,
        )
        record_workflow(item["order_id"], WorkflowStatus.RUNNING, reason=Reason.RETRIED, execution_arn=arn)
    return _view(closed)


def resolve(caller: Caller, exc_id: str, *, note: str) -> ExceptionView:
    caller.require("ops")
    return _view(close_exception(exc_id, status="resolved", note=note))
