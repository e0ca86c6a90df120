"""Cancelling units of an order: preview, or write the change and release what it held.

One transaction writes the change order, the lines' ``cancelled`` and ``allocated`` buckets (the order
kernel's ``bucket_write``: pinned on the buckets the plan read, so a concurrent shipment
or allocation makes it plan again), the
header and the timeline event. After it: stock held for the cancelled units is released
(allocations not yet on a fulfillment order here, the rest by cancelling fulfillment-order
lines, which resumes the waiting execution), a parked backorder wait is woken when
nothing is left to allocate, and the money moves (authorization released, captured excess
refunded with a credit memo). A failure after the commit becomes a process exception.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from functions.changes.logic.access import load_for_change
from functions.changes.logic.cancel_plan import CancelPlan, money_effect, plan_cancellation
from functions.changes.logic.effects import after_commit
from functions.changes.logic.models import CancelRequest
from functions.changes.logic.settlement import issue_refund, payment_position, release_authorization
from functions.changes.logic.stock_release import release_cancelled_units
from functions.changes.logic.views import change_view
from functions.changes.rules.figures import order_figures
from functions.changes.store import change_item, load_change_policy
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Conflict
from shared.ids import new_id
from shared.order import hold_wait
from shared.order.quantities import LineQuantities, bucket_write
from shared.order.record import OrderRecord
from shared.order.state import HeaderUpdate, Reason
from shared.order.timeline import event_item
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table

ROLES = ("channel", "agent", "ops")
# A change order is one transaction: its item, the header, the event and its lines.
LINES_PER_CHANGE = 90
_ATTEMPTS = 3


def _live_after(record: OrderRecord, plan: CancelPlan) -> int:
    cancelling = {p.line["line_id"]: p.quantity for p in plan.lines}
    return sum(LineQuantities.of(line).live - cancelling.get(line["line_id"], 0) for line in record.lines)


def _draft(record: OrderRecord, plan: CancelPlan, reason: str, change_id: str, at: str) -> Item:
    position = payment_position(record)
    effect = money_effect(
        plan.value,
        captured=position.captured,
        refunded=position.refunded,
        authorized_open=position.authorized_open,
        needed_after=order_figures(record)["total"] - plan.value,
    )
    return change_item(
        record.header["order_id"],
        change_id,
        kind="cancel",
        reason=reason,
        lines=plan.change_lines,
        totals=plan.totals,
        refund=effect.refund,
        release=effect.release,
        at=at,
        # The units that held stock, kept on the change: its follow-up (and an operator's
        # retry of it) releases them from the change alone.
        extra={"stock_released": {}, "stock_held": {p.line["line_id"]: p.allocated for p in plan.lines if p.allocated}},
    )


def _header_op(order_id: str, whole: bool, at: str) -> dict[str, Any]:
    header = HeaderUpdate(order_id, at)
    return (header.because(Reason.ALL_UNITS_CANCELLED) if whole else header).op()


def _commit(record: OrderRecord, plan: CancelPlan, change: Item, at: str) -> str:
    order_id = record.header["order_id"]
    whole = _live_after(record, plan) == 0
    kind = "order.cancelled" if whole else "order.lines_cancelled"
    detail = {
        "change_id": change["change_id"],
        "reason": change["reason"],
        "lines": {p.line["line_id"]: p.quantity for p in plan.lines},
        "total": change["totals"]["total"],
    }
    ops: list[dict[str, Any]] = [
        {"Put": {"Item": change, "ConditionExpression": "attribute_not_exists(pk)"}},
        # Units that held stock leave ``allocated`` in the same write (allocated + cancelled
        # <= ordered); the stock and allocation items behind them are released after it.
        *(bucket_write(p.line, cancelled=p.quantity, allocated=-p.allocated, at=at) for p in plan.lines),
        _header_op(order_id, whole, at),
        {"Put": {"Item": event_item(order_id, kind, detail, at=at)}},
    ]
    Table().transact(ops)
    return kind


def settle_cancel(order_id: str, change: Item) -> None:
    """The cancellation's follow-up (idempotent: every step is marked once per change)."""
    held = {line_id: int(units) for line_id, units in (change.get("stock_held") or {}).items()}
    reason = f"cancel {change['change_id']}: {change['reason']}"
    release_cancelled_units(order_id, change["change_id"], held, reason=reason)
    release_authorization(order_id, int(change["release"]["amount"]), reason=reason, change_id=change["change_id"])
    issue_refund(order_id, change_id=change["change_id"], amount=int(change["refund"]["amount"]), reason=reason)


def _cancel_part(
    caller: Caller, order_id: str, requested: list[tuple[str, int]] | None, reason: str, preview: bool
) -> dict[str, Any]:
    policy = load_change_policy()
    for _attempt in attempts(_ATTEMPTS):
        record = load_for_change(caller, order_id, roles=ROLES)
        plan = plan_cancellation(record.lines, requested, refund_shipping=policy.refund_shipping_on_cancel)
        at = now_iso()
        change = _draft(record, plan, reason, "preview" if preview else new_id("chg"), at)
        if preview:
            return change_view(change) | {"change_id": None, "preview": True}
        try:
            kind = _commit(record, plan, change, at)
        except ConditionFailed:
            continue  # shipped, allocated or cancelled under us: plan again from fresh buckets
        after_commit(order_id, "CancelOrder", change["change_id"], partial(settle_cancel, order_id, change))
        if kind == "order.cancelled":  # an execution parked on the order's holds has nothing left to wait for
            hold_wait.wake(order_id, reason="order cancelled")
        return change_view(change)
    raise Conflict(f"order {order_id} kept changing while cancelling; try again")


def cancel_order(caller: Caller, order_id: str, request: CancelRequest, *, preview: bool) -> dict[str, Any]:
    """Cancel what the request names (everything not shipped when it names nothing)."""
    if request.lines is None:
        record = load_for_change(caller, order_id, roles=ROLES)
        requested = [(line["line_id"], n) for line in record.lines if (n := LineQuantities.of(line).cancellable) > 0]
        if not requested:
            raise Conflict("nothing left to cancel: every unit is shipped or cancelled")
    else:
        requested = [(line.line_id, line.quantity) for line in request.lines]
    parts = [requested[i : i + LINES_PER_CHANGE] for i in range(0, len(requested), LINES_PER_CHANGE)]
    views = [_cancel_part(caller, order_id, part, request.reason, preview) for part in parts]
    first = views[0]
    if len(views) > 1:  # past one transaction: one change order per part, reported together
        first = first | {"related_changes": views[1:]}
    return first
