"""Process exceptions: an order a step could not move on, with the error and the way back."""

from __future__ import annotations

from typing import Any

from shared.actor import current_actor
from shared.clock import now_iso
from shared.errors import Conflict, NotFound
from shared.ids import new_id
from shared.order import keys
from shared.table import ConditionFailed, Item, Table, decode_cursor, encode_cursor

STATUSES = ("open", "retried", "resolved")


def exception_pk(exc_id: str) -> str:
    return f"EXCEPTION#{exc_id}"


def record_exception(
    *, order_id: str, step: str, error: str, cause: str, retry: dict[str, Any], table: Table | None = None
) -> Item:
    """One open exception per order and step: a repeat returns the open one."""
    table = table or Table()
    dedupe_pk = f"OPENEXCEPTION#{order_id}#{step}"
    existing = table.get(dedupe_pk, "OPENEXCEPTION")
    if existing:
        found = table.get(exception_pk(existing["exc_id"]), "EXCEPTION")
        if found and found["status"] == "open":
            return found
    at = now_iso()
    exc_id = new_id("exc")
    item = {
        "pk": exception_pk(exc_id),
        "sk": "EXCEPTION",
        "type": "exception",
        "exc_id": exc_id,
        "order_id": order_id,
        "step": step,
        "error": error,
        "cause": cause[:2000],
        "retry": retry,
        "status": "open",
        "created_at": at,
        "updated_at": at,
        "gsi1pk": "EXCEPTIONS#open",
        "gsi1sk": keys.created_sort_key(at, exc_id),
    }
    table.transact(
        [
            {"Put": {"Item": item}},
            {"Put": {"Item": {"pk": dedupe_pk, "sk": "OPENEXCEPTION", "type": "open_exception", "exc_id": exc_id}}},
            {
                "Put": {
                    "Item": {
                        "pk": keys.order_pk(order_id),
                        "sk": keys.event_sk(at, exc_id),
                        "type": "event",
                        "event_id": exc_id,
                        "order_id": order_id,
                        "kind": "exception.opened",
                        "at": at,
                        "detail": {"exc_id": exc_id, "step": step, "error": error},
                        "actor": current_actor(),
                    }
                }
            },
        ]
    )
    return item


def get_exception(exc_id: str, table: Table | None = None) -> Item:
    item = (table or Table()).get(exception_pk(exc_id), "EXCEPTION")
    if not item:
        raise NotFound(f"no exception {exc_id}")
    return item


def list_exceptions(
    status: str, *, limit: int, cursor: str | None, table: Table | None = None
) -> tuple[list[Item], str | None]:
    items, last = (table or Table()).query(
        "gsi1pk = :pk",
        {":pk": f"EXCEPTIONS#{status}"},
        index="gsi1",
        limit=limit,
        start_key=decode_cursor(cursor),
        forward=False,
    )
    return items, encode_cursor(last)


def close_exception(exc_id: str, *, status: str, note: str, table: Table | None = None) -> Item:
    """Move an open exception to ``retried`` or ``resolved``, exactly once."""
    table = table or Table()
    current = get_exception(exc_id, table)
    at = now_iso()
    try:
        updated = table.update(
            exception_pk(exc_id),
            "EXCEPTION",
            "SET #s = :s, updated_at = :at, note = :note, gsi1pk = :g",
            values={":s": status, ":at": at, ":note": note[:1000], ":g": f"EXCEPTIONS#{status}", ":open": "open"},
            names={"#s": "status"},
            condition="#s = :open",
            return_new=True,
        )
    except ConditionFailed as err:
        raise Conflict(f"exception {exc_id} is already {current['status']}") from err
    table.batch_delete([(f"OPENEXCEPTION#{current['order_id']}#{current['step']}", "OPENEXCEPTION")])
    assert updated is not None
    return updated
