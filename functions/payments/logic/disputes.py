"""Disputes (chargebacks): the order waits on hold for an operator until the dispute closes.

Item ``ORDER#<id>`` / ``DISPUTE#<provider>#<reference>``: the dispute's latest known state
and when the provider said so. An event older than that is recorded but moves nothing,
so a ``dispute.closed`` delivered before its ``dispute.opened`` leaves the order as it is.
The header keeps ``hold`` {reason, dispute, previous_status} to restore on closing.
"""

from __future__ import annotations

from typing import Any

from functions.payments.gateways.gateway import WebhookEvent
from shared.clock import now_iso
from shared.errors import RetryableError
from shared.order import keys
from shared.order.state import HeaderUpdate, OrderStatus, Reason
from shared.order.timeline import event_item
from shared.process_exceptions import record_exception
from shared.table import ConditionFailed, Item, Table

_ATTEMPTS = 5


def _dispute_sk(event: WebhookEvent) -> str:
    return f"DISPUTE#{event.provider}#{event.reference}"


def _dispute_item(order_id: str, payment_id: str, event: WebhookEvent, status: str) -> Item:
    return {
        "pk": keys.order_pk(order_id),
        "sk": _dispute_sk(event),
        "type": "dispute",
        "order_id": order_id,
        "payment_id": payment_id,
        "provider": event.provider,
        "reference": event.reference,
        "status": status,
        "amount": event.amount,
        "reason": event.reason,
        "occurred_at": event.occurred_at,
        "updated_at": now_iso(),
    }


def _put_if_newer(item: Item) -> dict[str, Any]:
    return {
        "Put": {
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk) OR occurred_at < :t",
            "ExpressionAttributeValues": {":t": item["occurred_at"]},
        }
    }


def apply_dispute(order_id: str, payment_id: str, event: WebhookEvent) -> str:
    """``held``, ``released``, ``recorded`` (nothing to move) or ``stale``."""
    table = Table()
    opened = event.kind == "dispute.opened"
    for _ in range(_ATTEMPTS):
        known = table.get(keys.order_pk(order_id), _dispute_sk(event))
        if known and str(known["occurred_at"]) >= event.occurred_at:
            return "stale"
        header = table.get(keys.order_pk(order_id), keys.ORDER_HEADER)
        if header is None:
            return "stale"
        at = now_iso()
        detail = {"payment_id": payment_id, "dispute": event.reference, "amount": event.amount, "reason": event.reason}
        ops: list[dict[str, Any]] = [
            _put_if_newer(_dispute_item(order_id, payment_id, event, "open" if opened else "closed")),
            {"Put": {"Item": event_item(order_id, event.kind.replace("dispute.", "payment.dispute_"), detail, at=at)}},
        ]
        hold = header.get("hold") or {}
        outcome = "recorded"
        if opened and hold.get("dispute") != event.reference:
            hold = {"reason": "payment_dispute", "dispute": event.reference, "previous_status": header["status"]}
            held = HeaderUpdate(order_id, at).because(Reason.DISPUTE_OPENED, expect=header["status"])
            ops.append(held.set("hold", hold).op())
            outcome = "held"
        elif not opened and hold.get("dispute") == event.reference:
            released = HeaderUpdate(order_id, at).remove("hold")
            if header["status"] == OrderStatus.ON_HOLD:  # else the order moved on meanwhile: it stays there
                released.status(OrderStatus(hold.get("previous_status", OrderStatus.OPEN)), expect=header["status"])
            else:
                released.still(header["status"])
            ops.append(released.op())
            outcome = "released"
        try:
            table.transact(ops)
        except ConditionFailed:
            continue
        if opened:
            record_exception(
                order_id=order_id,
                step="PaymentDispute",
                error="DisputeOpened",
                cause=f"dispute {event.reference} on payment {payment_id}: {event.reason or 'no reason given'}",
                retry={"action": "none"},
                table=table,
            )
        return outcome
    raise RetryableError(f"order {order_id} kept changing")
