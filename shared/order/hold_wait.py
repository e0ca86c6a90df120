"""The execution parked on an order's holds: ``ORDER#<id>`` / ``HOLDWAIT`` keeps its task token.

In the kernel because two domains wake it: holds (the last hold ended, or one with an
expiry was placed) and changes (the order was cancelled while held: nothing is left to wait
for).
"""

from __future__ import annotations

import contextlib

from shared.order import keys
from shared.table import ConditionFailed, Item, Table
from shared.workflow import resume_task

HOLDWAIT = "HOLDWAIT"


def park(order_id: str, task_token: str, at: str, table: Table | None = None) -> None:
    (table or Table()).put(
        {"pk": keys.order_pk(order_id), "sk": HOLDWAIT, "type": "hold_wait", "task_token": task_token, "at": at}
    )


def waiting(order_id: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(keys.order_pk(order_id), HOLDWAIT)


def wake(order_id: str, *, reason: str, table: Table | None = None) -> bool:
    """Resume the execution waiting on the order's holds; False if none waits (or its token
    is spent). The token is removed after the resume, and only if it is still the one read."""
    table = table or Table()
    parked = waiting(order_id, table)
    if parked is None or not parked.get("task_token"):
        return False
    token = parked["task_token"]
    resumed = resume_task(token, {"reason": reason})
    with contextlib.suppress(ConditionFailed):  # a newer wait keeps its own token
        table.update(
            keys.order_pk(order_id), HOLDWAIT, "REMOVE task_token", condition="task_token = :t", values={":t": token}
        )
    return resumed
