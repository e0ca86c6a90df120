"""The ReturnLifecycle steps: wait for goods, refund each receipt, close or expire.

Each unsettled receipt becomes a change order of kind ``return`` (its id chosen at
receipt, so a rerun finds it) and a refund with a credit memo keyed by that change; the
receipt is marked settled last. Any step can run twice without moving money twice.
"""

from __future__ import annotations

from typing import Any

from functions.changes.api import change_item, issue_refund, load_change_policy, payment_position
from functions.returns.rules.refunds import ReturnedUnits, refund_lines, settle_return_refund
from functions.returns.store import line_buckets_op, load_return, versioned_return_put
from shared.clock import now_iso
from shared.errors import RetryableError
from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord
from shared.order.timeline import event_item
from shared.process_exceptions import record_exception
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table
from shared.workflow import resume_task

_ATTEMPTS = 3


def _outstanding(ret: Item) -> int:
    return sum(int(line["quantity"]) - int(line["received"]) for line in ret["lines"])


def await_receipt(return_id: str, task_token: str) -> dict[str, Any]:
    """Store the token; resume at once if a receipt is already waiting to be settled.

    The token write moves the return's version, so a receipt written from an older read
    is refused and reads the token again: no receipt can miss the waiting execution.
    """
    for _attempt in attempts(_ATTEMPTS):
        _, ret = load_return(return_id)
        try:
            Table().transact([versioned_return_put(ret | {"task_token": task_token}, int(ret["version"]))])
        except ConditionFailed:
            continue
        if any(not r["settled"] for r in ret["receipts"]) or ret["status"] not in ("authorized", "partially_received"):
            resume_task(task_token, {"reason": "receipt waiting"})
            return {"parked": False}
        return {"parked": True}
    raise RetryableError(f"return {return_id} kept changing while parking")


def receipt_change(record: OrderRecord, ret: Item, receipt: dict[str, Any], credit_left: int) -> Item:
    order_lines = {line["line_id"]: line for line in record.lines}
    reasons = {line["line_id"]: line["reason"] for line in ret["lines"]}
    units = [
        ReturnedUnits(order_lines[r["line_id"]], int(r["quantity"]), reasons[r["line_id"]], int(r["returned_before"]))
        for r in receipt["lines"]
    ]
    settled = settle_return_refund(
        refund_lines(units, load_change_policy(), waive_fees=bool(ret.get("waive_fees"))),
        credit_left=credit_left,
        # What the receipt reserved when it was received is its own to refund.
        refundable=payment_position(record, receipt["change_id"]).refundable,
    )
    return change_item(
        ret["order_id"],
        receipt["change_id"],
        kind="return",
        reason=", ".join(sorted({u.reason for u in units})),
        lines=settled.lines,
        totals=settled.totals,
        refund=settled.refund,
        release=0,
        at=receipt["at"],
        return_id=ret["return_id"],
        extra={"receipt_id": receipt["receipt_id"], "credit_used": settled.credit_used},
    )


def _settle_receipt(return_id: str, receipt_id: str) -> None:
    table = Table()
    for _attempt in attempts(_ATTEMPTS):
        record, ret = load_return(return_id)
        receipt = next(r for r in ret["receipts"] if r["receipt_id"] == receipt_id)
        if receipt["settled"]:
            return
        existing = [c for c in record.others.get("CHG", []) if c["change_id"] == receipt["change_id"]]
        credit_left = int(ret.get("exchange_credit", 0)) - int(ret.get("credit_used", 0))
        change = existing[0] if existing else receipt_change(record, ret, receipt, credit_left)
        if not existing:
            try:
                table.put(change, condition="attribute_not_exists(pk)")
            except ConditionFailed:
                continue
        refund = int(change["refund"]["amount"])
        memo = issue_refund(
            ret["order_id"],
            change_id=change["change_id"],
            amount=refund,
            reason=f"return {return_id}",
            lines=change["lines"],
        )
        at = now_iso()
        receipts = [
            r | {"settled": True, "credit_memo_id": (memo or {}).get("credit_memo_id")}
            if r["receipt_id"] == receipt_id
            else r
            for r in ret["receipts"]
        ]
        refunded_by_line: dict[str, int] = {}
        for line in change["lines"]:
            refunded_by_line[line["line_id"]] = refunded_by_line.get(line["line_id"], 0) + int(line["quantity"])
        lines = [
            line | {"refunded": int(line["refunded"]) + refunded_by_line.get(line["line_id"], 0)}
            for line in ret["lines"]
        ]
        after = ret | {
            "receipts": receipts,
            "lines": lines,
            "refunded": int(ret["refunded"]) + refund,
            "credit_used": int(ret.get("credit_used", 0)) + int(change.get("credit_used", 0)),
            "change_ids": [*ret.get("change_ids", []), change["change_id"]],
            "updated_at": at,
        }
        detail = {"return_id": return_id, "change_id": change["change_id"], "refund": refund}
        try:
            table.transact(
                [
                    versioned_return_put(after, int(ret["version"])),
                    {"Put": {"Item": event_item(ret["order_id"], "return.refunded", detail, at=at)}},
                ]
            )
        except ConditionFailed:
            continue
        return
    raise RetryableError(f"return {return_id} kept changing while settling")


def _expire(return_id: str) -> str:
    """What never arrived is no longer expected: the lines' return_initiated goes back."""
    for _attempt in attempts(_ATTEMPTS):
        record, ret = load_return(return_id)
        if ret["status"] not in ("authorized", "partially_received"):
            return str(ret["status"])
        order_lines = {line["line_id"]: line for line in record.lines}
        at = now_iso()
        ops = []
        for line in ret["lines"]:
            rest = int(line["quantity"]) - int(line["received"])
            if rest:
                b = LineQuantities.of(order_lines[line["line_id"]])
                ops.append(
                    line_buckets_op(order_lines[line["line_id"]], {"return_initiated": b.return_initiated - rest}, at)
                )
        status = "expired" if not ret["receipts"] else "closed"
        ops.append(versioned_return_put(ret | {"status": status, "updated_at": at}, int(ret["version"])))
        detail = {"return_id": return_id, "status": status}
        ops.append({"Put": {"Item": event_item(ret["order_id"], "return.expired", detail, at=at)}})
        try:
            Table().transact(ops)
        except ConditionFailed:
            continue
        return status
    raise RetryableError(f"return {return_id} kept changing while expiring")


def _close(return_id: str) -> None:
    _, ret = load_return(return_id)
    if ret["status"] == "received" and all(r["settled"] for r in ret["receipts"]):
        at = now_iso()
        try:
            Table().transact(
                [
                    versioned_return_put(ret | {"status": "closed", "updated_at": at}, int(ret["version"])),
                    {"Put": {"Item": event_item(ret["order_id"], "return.closed", {"return_id": return_id}, at=at)}},
                ]
            )
        except ConditionFailed as err:
            raise RetryableError(f"return {return_id} changed while closing") from err


def settle_return(
    return_id: str, order_id: str, *, expire: bool = False, error: dict[str, Any] | None = None
) -> dict[str, Any]:
    if error is not None:
        record_exception(
            order_id=order_id,
            step="ReturnLifecycle",
            error=str(error.get("Error", "ReturnFailed")),
            cause=str(error.get("Cause", "")),
            retry={"return_id": return_id},
        )
        return {"next": "closed", "exception": True}
    _, ret = load_return(return_id)
    for receipt in ret["receipts"]:
        if not receipt["settled"]:
            _settle_receipt(return_id, receipt["receipt_id"])
    if expire:
        return {"next": "closed", "status": _expire(return_id)}
    _, ret = load_return(return_id)
    if _outstanding(ret) > 0:
        return {"next": "await", "status": ret["status"]}
    _close(return_id)
    return {"next": "closed", "status": "closed"}
