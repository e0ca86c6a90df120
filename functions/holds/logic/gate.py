"""The workflow's hold gate: screen the order, expire what is due, wait while it is held.

OrderLifecycle's ``AdvanceOrder`` runs ``check_holds`` before authorizing and releasing
(also after stock arrives and after a re-route) and sends a held order to
``AwaitHoldRelease`` (``park``), whose token waits in ``HOLDWAIT`` until the last hold
ends (``holds.end`` wakes it) or until the earliest expiry, when the step runs again and
applies each expired hold's action (release, or cancel what is not shipped).
"""

from __future__ import annotations

import contextlib
from typing import Any

from functions.changes.api import CancelRequest, cancel_order
from functions.holds import store
from functions.holds.logic.holds import end
from functions.holds.logic.policy import load_policy
from functions.holds.logic.screening import screen_order
from functions.holds.rules.holds import due, wait_seconds
from functions.holds.rules.policy import HoldPolicy
from shared.api.caller import Caller
from shared.clock import now, now_iso
from shared.errors import Conflict, NotFound
from shared.order import hold_wait, keys
from shared.order.quantities import LineQuantities
from shared.order.record import load_order
from shared.order.state import HOLDS, is_closed, is_held
from shared.table import Item, Table
from shared.workflow import resume_task

# Expiry actions run as the workflow: an operator's rights, recorded as ``system``.
_SYSTEM = Caller(principal_id="system", role="ops")


def _header(order_id: str) -> Item:
    header = Table().get(keys.order_pk(order_id), keys.ORDER_HEADER)
    if header is None:
        raise NotFound(f"no order {order_id}")
    return header


def _cancel_unshipped(order_id: str, reason: str) -> None:
    record = load_order(order_id)
    if record is None or is_closed(record.header):
        return
    if not any(LineQuantities.of(line).cancellable for line in record.lines):
        return
    with contextlib.suppress(Conflict):  # shipped or cancelled meanwhile: nothing left to cancel
        cancel_order(_SYSTEM, order_id, CancelRequest(reason=reason), preview=False)


def expire_due(order_id: str, header: Item, policy: HoldPolicy) -> list[str]:
    """Apply the action of every hold whose expiry has passed; the ids expired."""
    expired = []
    for hold_id in due(header.get(HOLDS) or {}, now()):
        hold = store.get_hold(order_id, hold_id)
        if hold is None or hold["status"] != "active":
            continue
        action = str(hold.get("on_expiry") or policy.action_on_expiry(str(hold["reason"])))
        if action == "cancel":
            # Cancel first: the order never leaves its hold with units still to release.
            _cancel_unshipped(order_id, f"hold {hold_id} ({hold['reason']}) expired")
        try:
            end(order_id, hold_id, outcome="expired", note=f"expiry action: {action}")
        except Conflict:
            continue  # released meanwhile
        expired.append(hold_id)
    return expired


def check_holds(order_id: str) -> dict[str, Any]:
    """The hold gate: ``held`` and how long to wait (seconds) before looking again."""
    policy = load_policy()
    screening, header_read = screen_order(order_id, policy)
    header = header_read or _header(order_id)
    expired = expire_due(order_id, header, policy) if is_held(header) else []
    if expired:
        header = _header(order_id)
    held = is_held(header) and not is_closed(header)
    out: dict[str, Any] = {
        "held": held,
        "timeout_seconds": wait_seconds(header.get(HOLDS) or {}, now(), longest=policy.recheck_seconds),
        "screening": {"score": screening.get("score"), "hold": bool(screening.get("hold"))},
    }
    if expired:
        out["expired"] = expired
    return out


def park(order_id: str, task_token: str) -> dict[str, Any]:
    """OrderLifecycle AwaitHoldRelease: keep the token until the order's last hold ends."""
    if not _still_held(order_id):
        resume_task(task_token, {"reason": "not held"})
        return {"parked": False}
    hold_wait.park(order_id, task_token, now_iso())
    # Token first, then look again: a release that committed meanwhile found no waiter.
    if not _still_held(order_id):
        hold_wait.wake(order_id, reason="released while parking")
        return {"parked": False}
    return {"parked": True}


def _still_held(order_id: str) -> bool:
    header = _header(order_id)
    return is_held(header) and not is_closed(header)
