"""The local stack's outbox: customer messages kept in the table instead of sent.

``OUTBOX#<order_id>`` / ``<at>#<event_id>``: one item per message, oldest first. The key
comes from the event, so writing the same message again finds it already there.
"""

from __future__ import annotations

import contextlib
from typing import Any

from shared.clock import now_iso
from shared.table import ConditionFailed, Item, Table


def outbox_pk(order_id: str) -> str:
    return f"OUTBOX#{order_id}"


def put_outbox_message(
    *, order_id: str, event_id: str, at: str, kind: str, to: str, subject: str, text: str, html: str
) -> str:
    """Store one message; its key, which also serves as its message id."""
    sk = f"{at}#{event_id}"
    item = {
        "pk": outbox_pk(order_id),
        "sk": sk,
        "type": "outbox_message",
        "order_id": order_id,
        "event_id": event_id,
        "kind": kind,
        "to": to,
        "subject": subject,
        "text": text,
        "html": html,
        "created_at": now_iso(),
    }
    # Already there: written by an earlier attempt of this same event.
    with contextlib.suppress(ConditionFailed):
        Table().put(item, condition="attribute_not_exists(pk)")
    return f"outbox:{order_id}/{sk}"


def list_outbox(order_id: str, table: Table | None = None) -> list[dict[str, Any]]:
    """The messages of an order, oldest first."""
    items: list[Item] = list((table or Table()).query_all("pk = :pk", {":pk": outbox_pk(order_id)}, consistent=True))
    fields = ("order_id", "event_id", "kind", "to", "subject", "text", "html", "created_at")
    return [{name: item.get(name) for name in fields} for item in items]
