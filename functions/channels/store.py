"""The channels domain's items: webhook receipts (deduplication) and, later, subscriptions.

CHANNELHOOK#<platform>#<shop>#<webhook id> / RECEIPT   one per webhook delivery the platform
    sent, ``status`` received -> done; a redelivery of a done webhook changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from shared.clock import now_iso
from shared.table import ConditionFailed, Item, Table

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
