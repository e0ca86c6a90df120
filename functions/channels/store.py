"""The channels domain's items: webhook receipts (deduplication), webhook subscriptions and
their deliveries.

CHANNELHOOK#<platform>#<shop>#<webhook id> / RECEIPT   one per webhook delivery the platform
    sent, ``status`` received -> done; a redelivery of a done webhook changes nothing.
WEBHOOKSUBS / SUB#<whs_id>   url, events, secret (signs every delivery), deleted_at once
    deleted. One partition: every domain event reads them all (a few items; on the base
    table, never through an index).
WEBHOOKDELIVERY#<whd_id> / DELIVERY   one per (subscription, event): the message, ``status``
    pending -> delivered | failed (replay: failed -> pending), attempts, last_error; listed by
    status through gsi2 (``WEBHOOKDELIVERIES#<status>``, updated_at#id).
ORDER#<order id> / CHANNELSYNC#<event id>   one per status update to the order's sales
    platform: ``status`` sending -> sent | retrying | failed, attempts, outcome.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from shared.clock import now_iso
from shared.order.keys import order_pk
from shared.table import ConditionFailed, Item, Table, decode_cursor, encode_cursor

RECEIPT_DAYS = 7  # platforms retry for 48 hours (Shopify); a week covers every redelivery


def receipt_key(platform: str, shop: str, webhook_id: str) -> tuple[str, str]:
    return f"CHANNELHOOK#{platform}#{shop}#{webhook_id}", "RECEIPT"


def claim_receipt(platform: str, shop: str, webhook_id: str, topic: str) -> Item | None:
    """Record a delivery; the earlier receipt if this webhook id was already done."""
    pk, sk = receipt_key(platform, shop, webhook_id)
    table = Table()
    try:
        # A receipt that is not done yet (an earlier attempt failed midway) is taken over.
        table.update(
            pk,
            sk,
            "SET #t = :type, topic = :topic, #s = :received, received_at = :at, #ttl = :ttl",
            names={"#t": "type", "#s": "status", "#ttl": "ttl"},
            values={
                ":type": "channel_webhook",
                ":topic": topic,
                ":received": "received",
                ":done": "done",
                ":at": now_iso(),
                ":ttl": int(time.time()) + RECEIPT_DAYS * 86400,
            },
            condition="attribute_not_exists(pk) OR #s <> :done",
        )
    except ConditionFailed:
        return table.get(pk, sk)
    return None


def complete_receipt(platform: str, shop: str, webhook_id: str, outcome: dict[str, Any]) -> None:
    pk, sk = receipt_key(platform, shop, webhook_id)
    Table().update(
        pk,
        sk,
        "SET #s = :done, outcome = :o, done_at = :at",
        names={"#s": "status"},
        values={":done": "done", ":o": outcome, ":at": now_iso()},
    )


# --- status updates to sales platforms (functions/channels/logic/channel_status.py) ----------


def status_update_key(order_id: str, event_id: str) -> tuple[str, str]:
    return order_pk(order_id), f"CHANNELSYNC#{event_id}"


def claim_status_update(order_id: str, event_id: str, event_type: str, attempt: int) -> bool:
    """Take the update for this attempt; False when it was sent or parked already."""
    pk, sk = status_update_key(order_id, event_id)
    try:
        Table().update(
            pk,
            sk,
            "SET #t = :type, event_type = :kind, #s = :sending, attempts = :n, updated_at = :at",
            names={"#t": "type", "#s": "status"},
            values={
                ":type": "channel_status",
                ":kind": event_type,
                ":sending": "sending",
                ":n": attempt,
                ":at": now_iso(),
                ":sent": "sent",
                ":failed": "failed",
            },
            condition="attribute_not_exists(pk) OR NOT #s IN (:sent, :failed)",
        )
    except ConditionFailed:
        return False
    return True


def finish_status_update(order_id: str, event_id: str, *, status: str, outcome: dict[str, Any]) -> None:
    pk, sk = status_update_key(order_id, event_id)
    Table().update(
        pk,
        sk,
        "SET #s = :s, outcome = :o, updated_at = :at",
        names={"#s": "status"},
        values={":s": status, ":o": outcome, ":at": now_iso()},
    )


# --- outbound webhook subscriptions ----------------------------------------------------------

SUBSCRIPTIONS = "WEBHOOKSUBS"


def subscription_key(subscription_id: str) -> tuple[str, str]:
    return SUBSCRIPTIONS, f"SUB#{subscription_id}"


def put_subscription(subscription_id: str, url: str, events: list[str], secret: str, created_by: str) -> Item:
    pk, sk = subscription_key(subscription_id)
    at = now_iso()
    item: Item = {
        "pk": pk,
        "sk": sk,
        "type": "webhook_subscription",
        "subscription_id": subscription_id,
        "url": url,
        "events": events,
        "secret": secret,
        "created_at": at,
        "created_by": created_by,
    }
    Table().put(item, condition="attribute_not_exists(pk)")
    return item


def get_subscription(subscription_id: str) -> Item | None:
    return Table().get(*subscription_key(subscription_id))


def list_subscriptions() -> list[Item]:
    """Live subscriptions, oldest first."""
    items = Table().query_all("pk = :p AND begins_with(sk, :sub)", {":p": SUBSCRIPTIONS, ":sub": "SUB#"})
    return sorted((i for i in items if not i.get("deleted_at")), key=lambda i: (i["created_at"], i["sk"]))


def delete_subscription(subscription_id: str) -> bool:
    """False if there was no such subscription."""
    pk, sk = subscription_key(subscription_id)
    try:
        Table().update(
            pk,
            sk,
            "SET deleted_at = :at",
            values={":at": now_iso()},
            condition="attribute_exists(pk) AND attribute_not_exists(deleted_at)",
        )
    except ConditionFailed:
        return False
    return True


# --- deliveries (one per subscription and event) ------------------------------------------------

DELIVERY_DAYS = 30


def delivery_key(delivery_id: str) -> tuple[str, str]:
    return f"WEBHOOKDELIVERY#{delivery_id}", "DELIVERY"


def _status_index(status: str, delivery_id: str, at: str) -> dict[str, str]:
    return {"gsi2pk": f"WEBHOOKDELIVERIES#{status}", "gsi2sk": f"{at}#{delivery_id}"}


def claim_delivery(
    delivery_id: str, subscription_id: str, event_id: str, event_type: str, message: dict[str, Any]
) -> Item:
    """The delivery of this event to this subscriber: created pending, or the one that exists."""
    pk, sk = delivery_key(delivery_id)
    at = now_iso()
    item: Item = {
        "pk": pk,
        "sk": sk,
        "type": "webhook_delivery",
        "delivery_id": delivery_id,
        "subscription_id": subscription_id,
        "event_id": event_id,
        "event_type": event_type,
        "message": message,
        "status": "pending",
        "attempts": 0,
        "created_at": at,
        "updated_at": at,
        "ttl": int(time.time()) + DELIVERY_DAYS * 86400,
        **_status_index("pending", delivery_id, at),
    }
    table = Table()
    try:
        table.put(item, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        return table.get(pk, sk) or item
    return item


def get_delivery(delivery_id: str) -> Item | None:
    return Table().get(*delivery_key(delivery_id))


def record_attempt(delivery_id: str, *, status: str, http_status: int | None, error: str | None) -> Item | None:
    """One more attempt and its outcome (``status`` delivered, pending or failed); None if the
    delivery was delivered meanwhile (another attempt won)."""
    pk, sk = delivery_key(delivery_id)
    at = now_iso()
    index = _status_index(status, delivery_id, at)
    outcome = {"last_http_status": http_status, "last_error": error}
    sets = [f"{name} = :{name}" for name, value in outcome.items() if value is not None]
    removed = [name for name, value in outcome.items() if value is None]
    expression = "SET " + ", ".join(["#s = :s", "updated_at = :at", "gsi2pk = :g2p", "gsi2sk = :g2s", *sets])
    expression += " ADD attempts :one" + (" REMOVE " + ", ".join(removed) if removed else "")
    try:
        return Table().update(
            pk,
            sk,
            expression,
            names={"#s": "status"},
            values={
                ":s": status,
                ":at": at,
                ":g2p": index["gsi2pk"],
                ":g2s": index["gsi2sk"],
                ":one": 1,
                ":delivered": "delivered",
                **{f":{name}": value for name, value in outcome.items() if value is not None},
            },
            condition="attribute_exists(pk) AND #s <> :delivered",
            return_new=True,
        )
    except ConditionFailed:
        return None


def reopen_delivery(delivery_id: str, replayed_by: str) -> Item | None:
    """A failed delivery back to pending with fresh attempts; None unless it was failed."""
    pk, sk = delivery_key(delivery_id)
    at = now_iso()
    index = _status_index("pending", delivery_id, at)
    try:
        return Table().update(
            pk,
            sk,
            "SET #s = :pending, attempts = :zero, updated_at = :at, replayed_by = :by, gsi2pk = :g2p, gsi2sk = :g2s"
            " ADD replays :one",
            names={"#s": "status"},
            values={
                ":pending": "pending",
                ":failed": "failed",
                ":zero": 0,
                ":one": 1,
                ":at": at,
                ":by": replayed_by,
                ":g2p": index["gsi2pk"],
                ":g2s": index["gsi2sk"],
            },
            condition="#s = :failed",
            return_new=True,
        )
    except ConditionFailed:
        return None


def park_delivery(delivery_id: str) -> None:
    """A pending delivery back to failed (its replay could not be queued)."""
    pk, sk = delivery_key(delivery_id)
    at = now_iso()
    index = _status_index("failed", delivery_id, at)
    # A delivered or failed one stays as it is.
    with contextlib.suppress(ConditionFailed):
        Table().update(
            pk,
            sk,
            "SET #s = :failed, updated_at = :at, gsi2pk = :g2p, gsi2sk = :g2s",
            names={"#s": "status"},
            values={
                ":failed": "failed",
                ":pending": "pending",
                ":at": at,
                ":g2p": index["gsi2pk"],
                ":g2s": index["gsi2sk"],
            },
            condition="#s = :pending",
        )


def list_deliveries(status: str, *, limit: int, cursor: str | None) -> tuple[list[Item], str | None]:
    items, last = Table().query(
        "gsi2pk = :p",
        {":p": f"WEBHOOKDELIVERIES#{status}"},
        index="gsi2",
        limit=limit,
        start_key=decode_cursor(cursor, required_keys=("pk", "sk", "gsi2pk", "gsi2sk")),
        forward=False,
    )
    return items, encode_cursor(last)
