"""Order edits: change the shipping address or method, a line's quantity, add a line, swap
a SKU, on units not yet released to a warehouse; preview, or write the change order.

One transaction writes the change order (kind ``edit``), the removed units' buckets
(``cancelled`` up, ``allocated`` down for units that held stock: the kernel's
``bucket_write``, pinned on the buckets read), the allocations and stock of those units
(released on the condition that no fulfillment order took the allocation meanwhile), the
new lines (conditional new), the header (still in the status read, ``line_count`` pinned,
the new shipping) and the timeline event with its actor. A refused condition plans again
from fresh items; units released meanwhile are then 409.

After it, each step once per change: new units are routed (a backorder wait is woken so
the lifecycle allocates them; an order never released is allocated here; an order with
units at a warehouse routes them at its next review), and the money moves: a lower total
releases the authorization or refunds captured funds exactly as a cancellation does, a
higher one authorizes the difference beyond the open authorizations (the lifecycle's
AdvanceOrder covers an order not yet authorized). A failure after the commit is a
process exception (``EditOrder``).
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from typing import Any

from functions.changes.logic.access import load_for_change
from functions.changes.logic.cancel_plan import money_effect
from functions.changes.logic.edit_plan import EditPlan, charge_of, plan_edit
from functions.changes.logic.effects import after_commit
from functions.changes.logic.models import EditRequest
from functions.changes.logic.settlement import issue_refund, payment_position, release_authorization
from functions.changes.logic.stock_release import wake_if_nothing_to_allocate
from functions.changes.logic.views import change_view
from functions.changes.rules.figures import TOTAL_FIELDS, order_figures
from functions.changes.store import change_item
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Conflict, InvalidInput
from shared.ids import new_id
from shared.order import keys
from shared.order.quantities import bucket_write
from shared.order.record import OrderRecord, load_order
from shared.order.state import ACTIVE, HeaderUpdate
from shared.order.timeline import event_item
from shared.retry import attempts
from shared.table import TRANSACTION_LIMIT, ConditionFailed, Item, Table

ROLES = ("channel", "agent", "ops")
_ATTEMPTS = 3


def _money(record: OrderRecord, value: int) -> dict[str, int]:
    """What the edit moves: a release and a refund when it lowers the total, an authorization
    when it raises it past what the open authorizations cover."""
    position = payment_position(record)
    if value < 0:
        effect = money_effect(
            -value,
            captured=position.captured,
            refunded=position.refunded,
            authorized_open=position.authorized_open,
            needed_after=order_figures(record)["total"] + value,
        )
        return {"authorize": 0, "release": effect.release, "refund": effect.refund}
    granted = [p for p in record.others.get("PAY", []) if p.get("status") != "failed"]
    if value == 0 or not granted:
        return {"authorize": 0, "release": 0, "refund": 0}
    needed = charge_of(record.lines) + value - position.captured
    return {"authorize": max(0, needed - position.authorized_open), "release": 0, "refund": 0}


def _new_line_items(record: OrderRecord, plan: EditPlan, change_id: str) -> list[Item]:
    order_id = record.header["order_id"]
    last = max(int(line["position"]) for line in record.lines)
    return [
        {
            "pk": keys.order_pk(order_id),
            "sk": keys.line_sk(last + i),
            "type": "line",
            "order_id": order_id,
            "line_id": new_id("ln"),
            "position": last + i,
            "change_id": change_id,
            **({"edit_of": n.of_line} if n.of_line else {}),
            **n.figures,
        }
        for i, n in enumerate(plan.new_lines, start=1)
    ]


def _draft(record: OrderRecord, plan: EditPlan, reason: str, change_id: str, at: str) -> tuple[Item, list[Item]]:
    new_lines = _new_line_items(record, plan, change_id)
    lines = plan.change_lines([n["line_id"] for n in new_lines])
    totals = plan.totals()
    money = _money(record, totals["total"])
    extra: dict[str, Any] = {
        "authorize": {"amount": money["authorize"]},
        "new_lines": [n["line_id"] for n in new_lines],
    }
    if plan.shipping is not None:
        extra["shipping"] = {"before": record.header.get("shipping"), "after": plan.shipping}
    change = change_item(
        record.header["order_id"],
        change_id,
        kind="edit",
        reason=reason,
        lines=lines,
        totals=totals,
        refund=money["refund"],
        release=money["release"],
        at=at,
        extra=extra,
    )
    return change, new_lines


def _stock_ops(plan: EditPlan, at: str) -> list[dict[str, Any]]:
    """Give back the stock of removed units that held it: their allocations (each still on no
    fulfillment order, pinned on its counts) and one release per stock item."""
    from functions.allocate.api import consume_allocations
    from functions.inventory.api import release_op

    ops: list[dict[str, Any]] = []
    per_stock: dict[tuple[str, str], int] = defaultdict(int)
    for removal in plan.removals:
        if not removal.reserved:
            continue
        line_id = removal.line["line_id"]
        mine = [a for a in plan.free_allocations if a["line_id"] == line_id]
        before = {a["sk"]: int(a.get("released", 0)) for a in mine}
        consumed, after = consume_allocations(mine, line_id, removal.reserved, "released", at, unlinked=True)
        ops += consumed
        for a in after:
            per_stock[(a["sku"], a["location_id"])] += int(a.get("released", 0)) - before.get(a["sk"], 0)
    ops += [release_op(sku, location, q) for (sku, location), q in sorted(per_stock.items()) if q]
    return ops


def _header_op(record: OrderRecord, plan: EditPlan, added: int, at: str) -> dict[str, Any]:
    header = HeaderUpdate(record.header["order_id"], at).still(str(record.header["status"]))
    if added:
        count = int(record.header.get("line_count", len(record.lines)))
        header.set("line_count", count + added).condition(
            "(attribute_not_exists(line_count) OR line_count = :lc_read)", {":lc_read": count}
        )
    if plan.shipping is not None:
        header.set("shipping", plan.shipping)
    return header.op()


def _commit(record: OrderRecord, plan: EditPlan, change: Item, new_lines: list[Item], actor: str, at: str) -> None:
    order_id = record.header["order_id"]
    detail = {
        "change_id": change["change_id"],
        "reason": change["reason"],
        "removed": {r.line["line_id"]: r.quantity for r in plan.removals},
        "added": {n["line_id"]: {"sku": n["sku"], "quantity": n["quantity"]} for n in new_lines},
        "shipping_changed": plan.shipping is not None,
        "total": change["totals"]["total"],
        "actor": actor,
    }
    ops: list[dict[str, Any]] = [
        {"Put": {"Item": change, "ConditionExpression": "attribute_not_exists(pk)"}},
        *(bucket_write(r.line, cancelled=r.quantity, allocated=-r.reserved, at=at) for r in plan.removals),
        *_stock_ops(plan, at),
        *({"Put": {"Item": n, "ConditionExpression": "attribute_not_exists(pk)"}} for n in new_lines),
        _header_op(record, plan, len(new_lines), at),
        {"Put": {"Item": event_item(order_id, "order.edited", detail, at=at, actor=actor)}},
    ]
    if len(ops) > TRANSACTION_LIMIT:
        raise InvalidInput(
            "this edit is too large for one change order: split it",
            errors=[{"field": "lines", "message": f"{len(ops)} writes, at most {TRANSACTION_LIMIT}"}],
        )
    Table().transact(ops)


def route_new_units(order_id: str) -> str:
    """Route units an edit added: wake a backorder wait (the lifecycle allocates them), allocate
    an order never released here, else leave them to the lifecycle's next review."""
    from functions.allocate.api import allocate_order, backorder_waiter, wake_order

    if backorder_waiter(order_id) is not None:
        wake_order(order_id, reason="order edited")
        return "woken"
    record = load_order(order_id)
    if record is None or record.header.get("status") not in ACTIVE:
        return "closed"
    if record.others.get("FO"):
        return "at_review"
    allocate_order(order_id)
    return "allocated"


def settle_edit(order_id: str, change: Item) -> None:
    """The edit's follow-up (idempotent: each step is done once per change)."""
    change_id = change["change_id"]
    reason = f"edit {change_id}: {change['reason']}"
    if change.get("new_lines"):
        route_new_units(order_id)
    else:
        wake_if_nothing_to_allocate(order_id)
    release_authorization(order_id, int(change["release"]["amount"]), reason=reason, change_id=change_id)
    issue_refund(order_id, change_id=change_id, amount=int(change["refund"]["amount"]), reason=reason)
    if int(change["totals"]["total"]) > 0:
        # Asked whatever the draft expected: an authorization the lifecycle granted meanwhile
        # on the old total leaves a shortfall only this sees (it authorizes nothing when covered).
        from functions.payments.api import authorize_more

        authorize_more(order_id, change_id=change_id)


def _view(record: OrderRecord, change: Item) -> dict[str, Any]:
    before = order_figures(record)
    after = {f: before[f] + int(change["totals"].get(f, 0)) for f in (*TOTAL_FIELDS, "total")}
    return change_view(change) | {
        "authorize": change["authorize"],
        "new_lines": change["new_lines"],
        "shipping": (change.get("shipping") or {}).get("after"),
        "previous_totals": before,
        "current_totals": after,
        "payment_difference": after["total"] - before["total"],
    }


def edit_order(caller: Caller, order_id: str, request: EditRequest, *, preview: bool) -> dict[str, Any]:
    """Preview or apply an edit; each attempt plans from the order as read."""
    for _attempt in attempts(_ATTEMPTS):
        record = load_for_change(caller, order_id, roles=ROLES)
        if record.header["status"] not in ACTIVE:
            raise Conflict(f"order {order_id} is {record.header['status']}: it can no longer be edited")
        plan = plan_edit(record, request)
        at = now_iso()
        change, new_lines = _draft(record, plan, request.reason, "preview" if preview else new_id("chg"), at)
        if preview:
            return _view(record, change) | {"change_id": None, "preview": True}
        try:
            _commit(record, plan, change, new_lines, caller.principal_id, at)
        except ConditionFailed:
            continue  # allocated, released, shipped or edited under us: plan again from fresh items
        after_commit(order_id, "EditOrder", change["change_id"], partial(settle_edit, order_id, change))
        return _view(record, change)
    raise Conflict(f"order {order_id} kept changing while editing; try again")
