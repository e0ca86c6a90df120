"""Disputes (chargebacks): the order waits on hold for an operator until the dispute closes.

Item ``ORDER#<id>`` / ``DISPUTE#<provider>#<reference>``: the dispute's latest known state
and its place in the dispute's own sequence (``order_key``: the dispute's stage, opened
before closed, then the provider's finer stage number, then when the provider said so),
so two events of the same second are ordered too and a dispute once closed stays closed.
An event earlier in that sequence is recorded but moves nothing: a ``dispute.closed``
delivered before its ``dispute.opened`` leaves the order as it is, and a close in the
same second as the open still applies.
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
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table

_ATTEMPTS = 5


def _dispute_sk(event: WebhookEvent) -> str:
    return f"DISPUTE#{event.provider}#{event.reference}"


# A dispute's stages: a close always comes after the open, whatever the clock says.
_STAGE = {"dispute.opened": 0, "dispute.closed": 2}


def order_key(event: WebhookEvent) -> str:
    """The event's place in its dispute's sequence, comparable as a string."""
    return f"{_STAGE[event.kind]}#{event.sequence:04d}#{event.occurred_at}"


def _known_key(known: Item) -> str:
    if known.get("order_key"):
        return str(known["order_key"])
    return f"{2 if known.get('status') == 'closed' else 0}#0000#{known['occurred_at']}"  # written before the key


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
        "order_key": order_key(event),
        "updated_at": now_iso(),
    }


def _put_if_newer(item: Item, known: Item | None) -> dict[str, Any]:
    """Put the dispute's state over the one read (or none): a later event of the same
    dispute committing meanwhile refuses this one."""
    if known is None:
        return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
    return {
        "Put": {
            "Item": item,
            "ConditionExpression": "occurred_at = :t AND #s = :s AND "
            + ("order_key = :k" if known.get("order_key") else "attribute_not_exists(order_key)"),
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":t": known["occurred_at"],
                ":s": known["status"],
                **({":k": known["order_key"]} if known.get("order_key") else {}),
            },
        }
    }


def apply_dispute(order_id: str, payment_id: str, event: WebhookEvent) -> str:
    """``held``, ``released``, ``recorded`` (nothing to move) or ``stale``."""
    table = Table()
    opened = event.kind == "dispute.opened"
    for _ in attempts(_ATTEMPTS):
        known = table.get(keys.order_pk(order_id), _dispute_sk(event))
        if known and _known_key(known) >= order_key(event):
            return "stale"
        header = table.get(keys.order_pk(order_id), keys.ORDER_HEADER)
        if header is None:
            return "stale"
        at = now_iso()
        detail = {"payment_id": payment_id, "dispute": event.reference, "amount": event.amount, "reason": event.reason}
        ops: list[dict[str, Any]] = [
            _put_if_newer(_dispute_item(order_id, payment_id, event, "open" if opened else "closed"), known),
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
