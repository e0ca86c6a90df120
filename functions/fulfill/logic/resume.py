"""Signalling the execution waiting on a fulfillment order (the task token parked for it)."""

from __future__ import annotations

import contextlib
from typing import Any

from botocore.exceptions import ClientError

from functions.fulfill.rules.waits import branch_of
from functions.fulfill.store import parked_token
from shared.errors import Throttled
from shared.observability import logger
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table
from shared.workflow import branch_task, resume_task


def signal_wait(task_token: str, output: dict[str, Any], fo: Item) -> bool:
    """Tell the execution holding ``task_token`` the news in ``output`` about ``fo``, on the
    branch that news takes (functions/fulfill/rules/waits.py); False if the token is spent."""
    branch = branch_of(str(output["event"]), fo)
    if branch:
        return branch_task(task_token, branch, output)
    return resume_task(task_token, output)


def resume_waiting(fo: Item, output: dict[str, Any], table: Table | None = None) -> bool:
    """Resume the execution waiting on ``fo`` (after the write that changed it, so a token
    parked meanwhile is read here); on success clear the signal that write left, unless the
    order moved on since."""
    token = parked_token(fo, table)
    if not token:
        return False
    resumed = False
    for _attempt in attempts(3):
        try:
            resumed = signal_wait(token, output, fo)
            break
        except (Throttled, ClientError) as err:  # the change is written; AwaitFulfillment catches up
            logger.warning("could not resume the fulfillment wait", extra={"fo_id": fo["fo_id"], "error": str(err)})
    if resumed:
        clear_signal(fo, table)
    return resumed


def clear_signal(fo: Item, table: Table | None = None) -> None:
    """The execution heard ``fo``'s signal: remove it, unless the order was written again since."""
    if not fo.get("signal"):
        return
    with contextlib.suppress(ConditionFailed):
        (table or Table()).update(
            fo["pk"],
            fo["sk"],
            "REMOVE #signal",
            names={"#signal": "signal"},
            values={":ver": int(fo["version"])},
            condition="version = :ver",
        )
