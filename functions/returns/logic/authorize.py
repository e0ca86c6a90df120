"""Authorizing a return (RMA), with its expected refund and, for an exchange, the new lines.

One transaction writes the return, its pointer, the lines' ``return_initiated`` buckets
(pinned), the timeline event and, for an exchange, the change order of kind
``exchange`` with its new order lines. Then the ReturnLifecycle starts, and an exchange
that ships at once (policy) starts an OrderLifecycle for the new lines.
"""

from __future__ import annotations

from typing import Any

from functions.changes.api import ChangePolicy, change_item, change_totals, load_change_policy, load_for_change
from functions.returns.logic.models import ReturnRequest
from functions.returns.logic.shipping_exchange import ship_exchange
from functions.returns.logic.views import return_view
from functions.returns.rules.exchange_pricing import Replacement, price_replacements
from functions.returns.rules.refunds import ReturnedUnits, expected_refund
from functions.returns.store import line_buckets_op, pointer_item, return_sk, versioned_return_put
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Conflict, InvalidInput
from shared.ids import new_id
from shared.order import keys
from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord
from shared.order.timeline import event_item
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table
from shared.workflow import start_return_lifecycle

ROLES = ("channel", "agent", "ops")
_ATTEMPTS = 3


def _units(record: OrderRecord, request: ReturnRequest) -> list[ReturnedUnits]:
    by_id = {line["line_id"]: line for line in record.lines}
    units: list[ReturnedUnits] = []
    seen: set[str] = set()
    for i, asked in enumerate(request.lines):
        field = f"lines[{i}]"
        line = by_id.get(asked.line_id)
        if line is None or asked.line_id in seen:
            why = "unknown line" if line is None else "named twice"
            raise InvalidInput(f"line {asked.line_id}: {why}", errors=[{"field": f"{field}.line_id", "message": why}])
        seen.add(asked.line_id)
        q = LineQuantities.of(line)
        left = q.returnable
        if asked.quantity > left:
            raise Conflict(
                f"line {asked.line_id} has {max(0, left)} shipped units not yet returned or on a return",
                errors=[{"field": f"{field}.quantity", "message": f"at most {max(0, left)}"}],
            )
        units.append(ReturnedUnits(line, asked.quantity, asked.reason, q.returned + q.return_initiated))
    return units


def _exchange_lines(
    record: OrderRecord, request: ReturnRequest, units: list[ReturnedUnits], refund: int, change_id: str
) -> tuple[list[Item], int]:
    priced, credit = price_replacements(
        [Replacement(x.sku, x.quantity, x.unit_price) for x in request.exchange], units, expected_refund=refund
    )
    order_id = record.header["order_id"]
    last = max(int(line["position"]) for line in record.lines)
    items = []
    for i, figures in enumerate(priced, start=1):
        items.append(
            {
                "pk": keys.order_pk(order_id),
                "sk": keys.line_sk(last + i),
                "type": "line",
                "order_id": order_id,
                "line_id": new_id("ln"),
                "position": last + i,
                "change_id": change_id,
                **figures,
            }
        )
    return items, credit


def _return_item(
    record: OrderRecord, return_id: str, units: list[ReturnedUnits], new_lines: list[Item], figures: dict[str, Any]
) -> Item:
    order_id = record.header["order_id"]
    return {
        "pk": keys.order_pk(order_id),
        "sk": return_sk(return_id),
        "type": "return",
        "return_id": return_id,
        "order_id": order_id,
        "status": "authorized",
        "lines": [
            {
                "line_id": u.line["line_id"],
                "sku": u.line["sku"],
                "quantity": u.quantity,
                "reason": u.reason,
                "received": 0,
                "resellable": 0,
                "damaged": 0,
                "refunded": 0,
            }
            for u in units
        ],
        "exchange": [
            {"sku": n["sku"], "quantity": n["quantity"], "unit_price": n["unit_price"], "line_id": n["line_id"]}
            for n in new_lines
        ],
        "receipts": [],
        "refunded": 0,
        "credit_used": 0,
        "change_ids": [],
        **figures,
    }


def _draft(record: OrderRecord, request: ReturnRequest, policy: ChangePolicy, preview: bool) -> dict[str, Any]:
    units = _units(record, request)
    waive = bool(request.exchange)
    refund = expected_refund(units, policy, waive_fees=waive)
    return_id = "preview" if preview else new_id("ret")
    change_id = "preview" if preview else new_id("chg")
    new_lines, credit = _exchange_lines(record, request, units, refund, change_id) if request.exchange else ([], 0)
    at = now_iso()
    figures = {
        "expected_refund": refund - credit,
        "exchange_credit": credit,
        "waive_fees": waive,
        "exchange_change_id": change_id if new_lines else None,
        "exchange_shipped": False,
        "created_at": at,
        "updated_at": at,
    }
    ret = _return_item(record, return_id, units, new_lines, figures)
    return {"units": units, "return": ret, "new_lines": new_lines, "change_id": change_id, "at": at}


def _exchange_ops(order_id: str, draft: dict[str, Any]) -> list[dict[str, Any]]:
    new_lines: list[Item] = draft["new_lines"]
    if not new_lines:
        return []
    rows = [
        {"line_id": n["line_id"], "quantity": n["quantity"], "fee": 0}
        | {k: n[k] for k in ("subtotal", "discount", "tax", "shipping", "total")}
        for n in new_lines
    ]
    change = change_item(
        order_id,
        draft["change_id"],
        kind="exchange",
        reason="exchange",
        lines=rows,
        totals=change_totals(rows),
        refund=0,
        release=0,
        at=draft["at"],
        return_id=draft["return"]["return_id"],
    )
    return [
        {"Put": {"Item": change, "ConditionExpression": "attribute_not_exists(pk)"}},
        *({"Put": {"Item": n, "ConditionExpression": "attribute_not_exists(pk)"}} for n in new_lines),
        {
            "Update": {
                "Key": {"pk": keys.order_pk(order_id), "sk": keys.ORDER_HEADER},
                "UpdateExpression": "SET line_count = line_count + :n, updated_at = :at",
                "ExpressionAttributeValues": {":n": len(new_lines), ":at": draft["at"]},
            }
        },
    ]


def _commit(order_id: str, draft: dict[str, Any]) -> None:
    ret: Item = draft["return"]
    detail = {
        "return_id": ret["return_id"],
        "lines": {u.line["line_id"]: u.quantity for u in draft["units"]},
        "expected_refund": ret["expected_refund"],
        "exchange_change_id": ret["exchange_change_id"],
    }
    ops: list[dict[str, Any]] = [
        versioned_return_put(ret, 0),
        {"Put": {"Item": pointer_item(ret["return_id"], order_id)}},
        *(
            line_buckets_op(
                u.line, {"return_initiated": LineQuantities.of(u.line).return_initiated + u.quantity}, ret["created_at"]
            )
            for u in draft["units"]
        ),
        *_exchange_ops(order_id, draft),
        {"Put": {"Item": event_item(order_id, "return.authorized", detail, at=draft["at"])}},
    ]
    Table().transact(ops)


def authorize_return(caller: Caller, order_id: str, request: ReturnRequest, *, preview: bool) -> dict[str, Any]:
    policy = load_change_policy()
    for _attempt in attempts(_ATTEMPTS):
        record = load_for_change(caller, order_id, roles=ROLES)
        draft = _draft(record, request, policy, preview)
        view = return_view(draft["return"])
        if preview:
            return view | {"return_id": None, "preview": True, "exchange_change_id": None}
        try:
            _commit(order_id, draft)
        except ConditionFailed:
            continue  # shipped, returned or a line added under us: plan again
        start_return_lifecycle(
            draft["return"]["return_id"], order_id, receipt_timeout_seconds=policy.return_window_days * 86_400
        )
        if draft["new_lines"] and policy.exchange_ships == "immediately":
            ship_exchange(order_id, draft["return"]["return_id"])
        return view
    raise Conflict(f"order {order_id} kept changing while authorizing the return; try again")
