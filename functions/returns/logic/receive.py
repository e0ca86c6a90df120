"""Receiving returned goods at a location.

One transaction appends the receipt to the return (pinned on its version), moves the
lines' ``returned`` / ``return_initiated`` buckets (pinned), puts resellable units back on
hand at the receiving location (damaged ones are not), reserves the refund the units are
owed on the payment ledger (pinned on its version, so an appeasement cannot take it
meanwhile) and writes the timeline event.
Then the return's waiting execution is resumed to refund what arrived, and an exchange
that ships on receipt starts shipping.
"""

from __future__ import annotations

from typing import Any

from functions.changes.api import load_change_policy, reserve_refund_op
from functions.returns.logic.models import ReceiptRequest
from functions.returns.logic.settle import receipt_change
from functions.returns.logic.shipping_exchange import ship_exchange
from functions.returns.logic.views import return_view
from functions.returns.rules.refunds import restock_quantities
from functions.returns.store import line_buckets_op, load_return, restock_op, versioned_return_put
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.ids import new_id
from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord
from shared.order.timeline import event_item
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table
from shared.workflow import resume_task

_OPEN = ("authorized", "partially_received")
_ATTEMPTS = 3


def _authorize(caller: Caller, location_id: str) -> None:
    if caller.role == "ops":
        return
    if caller.role != "wms":
        raise Forbidden(f"role {caller.role!r} may not receive returns")
    if location_id not in caller.locations:
        raise Forbidden(
            f"this key is not bound to location {location_id!r}",
            errors=[{"field": "location_id", "message": "not one of this key's locations"}],
        )


def _receipt_lines(record: OrderRecord, ret: Item, request: ReceiptRequest) -> list[dict[str, Any]]:
    expected = {line["line_id"]: line for line in ret["lines"]}
    order_lines = {line["line_id"]: line for line in record.lines}
    arriving: dict[str, int] = {}
    out = []
    for i, got in enumerate(request.lines):
        if got.line_id not in expected:
            raise InvalidInput(
                f"line {got.line_id} is not on this return",
                errors=[{"field": f"lines[{i}].line_id", "message": "not on this return"}],
            )
        before = arriving.get(got.line_id, 0)
        left = int(expected[got.line_id]["quantity"]) - int(expected[got.line_id]["received"]) - before
        if got.quantity > left:
            raise Conflict(
                f"line {got.line_id}: {max(0, left)} units are still expected on this return",
                errors=[{"field": f"lines[{i}].quantity", "message": f"at most {max(0, left)}"}],
            )
        arriving[got.line_id] = before + got.quantity
        returned = LineQuantities.of(order_lines[got.line_id]).returned + before
        out.append(
            {"line_id": got.line_id, "quantity": got.quantity, "condition": got.condition, "returned_before": returned}
        )
    return out


def _after(ret: Item, receipt: dict[str, Any], at: str) -> Item:
    lines = []
    for line in ret["lines"]:
        mine = [r for r in receipt["lines"] if r["line_id"] == line["line_id"]]
        good = sum(int(r["quantity"]) for r in mine if r["condition"] == "resellable")
        bad = sum(int(r["quantity"]) for r in mine if r["condition"] == "damaged")
        lines.append(
            line
            | {
                "received": int(line["received"]) + good + bad,
                "resellable": int(line["resellable"]) + good,
                "damaged": int(line["damaged"]) + bad,
            }
        )
    complete = all(int(line["received"]) >= int(line["quantity"]) for line in lines)
    status = "received" if complete else "partially_received"
    return ret | {"lines": lines, "receipts": [*ret["receipts"], receipt], "status": status, "updated_at": at}


def _reservation(record: OrderRecord, ret: Item, receipt: dict[str, Any], at: str) -> list[dict[str, Any]]:
    """The refund these units are owed, reserved on the ledger before anything else (an
    appeasement) can take it; settling the receipt refunds it."""
    credit_left = int(ret.get("exchange_credit", 0)) - int(ret.get("credit_used", 0))
    amount = int(receipt_change(record, ret, receipt, credit_left)["refund"]["amount"])
    return [reserve_refund_op(record, receipt["change_id"], amount, at)] if amount > 0 else []


def _ops(record: OrderRecord, ret: Item, receipt: dict[str, Any], location_id: str, at: str) -> list[dict[str, Any]]:
    order_lines = {line["line_id"]: line for line in record.lines}
    per_line: dict[str, int] = {}
    for r in receipt["lines"]:
        per_line[r["line_id"]] = per_line.get(r["line_id"], 0) + int(r["quantity"])
    ops = [versioned_return_put(_after(ret, receipt, at), int(ret["version"]))]
    for line_id, q in per_line.items():
        b = LineQuantities.of(order_lines[line_id])
        ops.append(
            line_buckets_op(
                order_lines[line_id], {"returned": b.returned + q, "return_initiated": b.return_initiated - q}, at
            )
        )
    ops += _reservation(record, ret, receipt, at)
    restock = restock_quantities(receipt["lines"], order_lines)
    ops += [restock_op(sku, location_id, q, at) for sku, q in sorted(restock.items())]
    detail = {"return_id": ret["return_id"], "receipt_id": receipt["receipt_id"], "location_id": location_id}
    ops.append(
        {
            "Put": {
                "Item": event_item(record.header["order_id"], "return.received", detail | {"restocked": restock}, at=at)
            }
        }
    )
    return ops


def receive_return(caller: Caller, return_id: str, request: ReceiptRequest) -> dict[str, Any]:
    _authorize(caller, request.location_id)
    for _attempt in attempts(_ATTEMPTS):
        record, ret = load_return(return_id)
        if ret["status"] not in _OPEN:
            raise Conflict(f"return {return_id} is {ret['status']}: nothing more is expected")
        at = now_iso()
        receipt = {
            "receipt_id": new_id("ret").replace("ret_", "rcp_", 1),
            "change_id": new_id("chg"),
            "location_id": request.location_id,
            "lines": _receipt_lines(record, ret, request),
            "at": at,
            "settled": False,
        }
        try:
            Table().transact(_ops(record, ret, receipt, request.location_id, at))
        except ConditionFailed:
            continue  # another receipt or a shipment got there first: read again
        if ret.get("task_token"):
            resume_task(ret["task_token"], {"receipt_id": receipt["receipt_id"]})
        if ret.get("exchange_change_id") and load_change_policy().exchange_ships == "on_receipt":
            ship_exchange(record.header["order_id"], return_id)
        return return_view(_after(ret, receipt, at) | {"version": int(ret["version"]) + 1})
    raise Conflict(f"return {return_id} kept changing while receiving; try again")
