"""The order's timeline: one ``EVENT#<at>#<id>`` item per change, newest last.

Every event names its ``actor``: the caller's principal when written inside an API request
(``shared.actor``, set by the API app), ``system`` for workflow steps and consumers.
"""

from __future__ import annotations

from typing import Any

from shared.actor import current_actor
from shared.clock import now_iso
from shared.ids import new_id
from shared.order import keys
from shared.table import Item, Table, decode_cursor, encode_cursor


def event_item(
    order_id: str, kind: str, detail: dict[str, Any], *, at: str | None = None, actor: str | None = None
) -> Item:
    at = at or now_iso()
    event_id = new_id("evt")
    return {
        "pk": keys.order_pk(order_id),
        "sk": keys.event_sk(at, event_id),
        "type": "event",
        "event_id": event_id,
        "order_id": order_id,
        "kind": kind,
        "at": at,
        "detail": detail,
        "actor": actor or current_actor(),
    }


def append_event(order_id: str, kind: str, detail: dict[str, Any], table: Table | None = None) -> Item:
    item = event_item(order_id, kind, detail)
    (table or Table()).put(item)
    return item


def timeline(
    order_id: str, *, limit: int, cursor: str | None, table: Table | None = None
) -> tuple[list[Item], str | None]:
    items, last = (table or Table()).query(
        "pk = :pk AND begins_with(sk, :ev)",
        {":pk": keys.order_pk(order_id), ":ev": keys.EVENT_SK_PREFIX},
        limit=limit,
        start_key=decode_cursor(cursor),
    )
    return items, encode_cursor(last)
