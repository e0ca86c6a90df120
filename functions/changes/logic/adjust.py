"""Appeasements: a goodwill amount given back against captured funds, with a credit memo.

The change order adds a discount (``discount`` +amount, ``total`` -amount), spread over
the named lines (their own amounts, or by largest remainder over their totals), or on
the order as a whole when no line is named. Never more than is refundable (409): the
change reserves its refund on the ledger in its own transaction.
"""

from __future__ import annotations

from typing import Any

from functions.changes.logic.access import load_for_change
from functions.changes.logic.effects import after_commit
from functions.changes.logic.models import AdjustmentRequest
from functions.changes.logic.settlement import issue_refund, payment_position, reserve_refund_op
from functions.changes.logic.views import change_view
from functions.changes.rules.figures import change_totals
from functions.changes.store import change_item
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Conflict, InvalidInput
from shared.ids import new_id
from shared.money import split_largest_remainder
from shared.order.record import OrderRecord
from shared.order.timeline import event_item
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table

_ATTEMPTS = 3


def _adjustment_lines(record: OrderRecord, request: AdjustmentRequest) -> list[dict[str, Any]]:
    if not request.lines:
        return []
    by_id = {line["line_id"]: line for line in record.lines}
    for i, line in enumerate(request.lines):
        if line.line_id not in by_id:
            raise InvalidInput(
                f"no line {line.line_id} on this order",
                errors=[{"field": f"lines[{i}].line_id", "message": "unknown line"}],
            )
    given = [line.amount for line in request.lines]
    if all(a is not None for a in given):
        amounts = [int(a or 0) for a in given]
        if sum(amounts) != request.amount:
            raise InvalidInput(
                "the lines' amounts must add up to the amount",
                errors=[{"field": "lines", "message": f"add up to {sum(amounts)}, not {request.amount}"}],
            )
    elif any(a is not None for a in given):
        raise InvalidInput("give an amount for every line or for none", errors=[{"field": "lines", "message": "mixed"}])
    else:
        weights = [max(0, int(by_id[line.line_id]["total"])) for line in request.lines]
        amounts = split_largest_remainder(request.amount, weights)
    return [
        {"line_id": line.line_id, "quantity": 0, "subtotal": 0, "discount": a, "tax": 0, "shipping": 0, "fee": 0}
        | {"total": -a}
        for line, a in zip(request.lines, amounts, strict=True)
    ]


def adjust_order(caller: Caller, order_id: str, request: AdjustmentRequest, *, preview: bool) -> dict[str, Any]:
    """The appeasement's change order and its refund reserved on the ledger commit together,
    on the ledger version read: two appeasements (or an appeasement and a received return)
    cannot both take the same money; the one that would exceed what is left gets 409."""
    for _attempt in attempts(_ATTEMPTS):
        record = load_for_change(caller, order_id, roles=("agent", "ops"))
        lines = _adjustment_lines(record, request)
        refundable = payment_position(record).refundable
        if request.amount > refundable:
            raise Conflict(
                f"an appeasement of {request.amount} exceeds the {refundable} refundable",
                errors=[{"field": "amount", "message": f"at most {refundable}"}],
                available_to_refund=refundable,
            )
        totals = change_totals(lines) if lines else change_totals([], discount=request.amount)
        at = now_iso()
        change_id = "preview" if preview else new_id("chg")
        change = change_item(
            order_id,
            change_id,
            kind="appeasement",
            reason=request.reason,
            lines=lines,
            totals=totals,
            refund=request.amount,
            release=0,
            at=at,
        )
        if preview:
            return change_view(change) | {"change_id": None, "preview": True}
        detail = {"change_id": change_id, "reason": request.reason, "amount": request.amount}
        try:
            Table().transact(
                [
                    {"Put": {"Item": change, "ConditionExpression": "attribute_not_exists(pk)"}},
                    reserve_refund_op(record, change_id, request.amount, at),
                    {"Put": {"Item": event_item(order_id, "order.appeased", detail, at=at)}},
                ]
            )
        except ConditionFailed:
            continue  # the ledger moved (a refund, a capture, another reservation): decide again
        return _settle(order_id, change_id, change, request, lines)
    raise Conflict(f"order {order_id} kept changing while appeasing; try again")


def settle_appeasement(order_id: str, change: Item) -> dict[str, Any] | None:
    """The appeasement's refund with its credit memo, from the change alone (once per change)."""
    return issue_refund(
        order_id,
        change_id=change["change_id"],
        amount=int(change["refund"]["amount"]),
        reason=f"appeasement: {change['reason']}",
        lines=change.get("lines") or [],
    )


def _settle(
    order_id: str, change_id: str, change: dict[str, Any], request: AdjustmentRequest, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    memo: dict[str, Any] = {}

    def settle() -> None:
        memo["credit_memo"] = settle_appeasement(order_id, change)

    after_commit(order_id, "Appeasement", change_id, settle)
    view = change_view(change)
    if memo.get("credit_memo"):
        view["refund"] = {"amount": request.amount, "credit_memo_id": memo["credit_memo"]["credit_memo_id"]}
    return view
