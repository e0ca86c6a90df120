"""Bulk order import: the API reads the file (JSON lines or CSV) and queues its orders in
chunks on the OrderImport queue; the consumer captures each order on its own and records a
result per order: ``created``, ``exists`` (an order with this channel and external id was
already there: a re-import creates nothing twice) or ``failed`` with the reason.

The outcome is kept in the import ledger (shared/imports.py), whose chunk marker keeps a
redelivered chunk from counting twice. An order captured by an attempt that died before its
chunk was counted is found again by its external id and reported ``exists``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from functions.capture.api import OrderRequest, capture_order
from functions.channels.rules.order_files import FileRow, UnreadableFile, read_order_file
from shared.api.caller import Caller
from shared.clock import iso, now
from shared.errors import DomainError, InvalidInput, NotFound, Throttled
from shared.ids import new_id
from shared.imports import ImportLedger
from shared.order.record import DuplicateOrder
from shared.queues import BATCH_BYTES, send_messages
from shared.settings import get_settings

LEDGER = ImportLedger("order_import")
CHUNK_ORDERS = 50
# Room for the chunk's envelope within one SQS message.
CHUNK_BYTES = BATCH_BYTES - 8 * 1024
KEEP_DAYS = 30
MAX_ORDERS = 10_000
_REASON_LENGTH = 300


class OrderImportChunk(BaseModel):
    """One OrderImport message: orders (or unreadable lines) with their file line numbers."""

    import_id: str
    chunk: int
    rows: list[dict[str, Any]]
    caller: Caller
    expires: int


def _chunks(rows: list[FileRow]) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for row in rows:
        doc = row.as_json()
        length = len(json.dumps(doc, separators=(",", ":")))
        if length > CHUNK_BYTES:
            doc, length = FileRow(row.row, error="the order is larger than an import accepts").as_json(), 100
        if len(chunks[-1]) == CHUNK_ORDERS or size + length > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(doc)
        size += length
    return [c for c in chunks if c]


def start_order_import(caller: Caller, text: str, content_type: str) -> dict[str, Any]:
    caller.require("channel", "ops")
    try:
        rows = read_order_file(text, content_type)
    except UnreadableFile as err:
        raise InvalidInput(str(err)) from err
    if len(rows) > MAX_ORDERS:
        raise InvalidInput(f"an import holds at most {MAX_ORDERS} orders")
    import_id = new_id("imp")
    created = now()
    expires = int((created + timedelta(days=KEEP_DAYS)).timestamp())
    messages = [
        OrderImportChunk(import_id=import_id, chunk=n + 1, rows=chunk, caller=caller, expires=expires).model_dump_json()
        for n, chunk in enumerate(_chunks(rows))
    ]
    send_messages(get_settings().order_import_queue_url, messages)
    # Written after the chunks are queued: an import that could not be queued never shows.
    LEDGER.record_import(
        import_id,
        rows=len(rows),
        chunks=len(messages),
        created_by=caller.principal_id,
        created_at=iso(created),
        expires=expires,
    )
    return order_import_status(caller, import_id)


def _why(err: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'order'}: {e['msg']}" for e in err.errors()]
    return "; ".join(parts)[:_REASON_LENGTH]


def _apply_row(raw: dict[str, Any], caller: Caller) -> dict[str, Any]:
    row = int(raw["row"])
    order = raw.get("order")
    if order is None:
        return {"row": row, "result": "failed", "reason": str(raw.get("error") or "unreadable")}
    named = {k: str(order[k])[:128] for k in ("channel", "external_id") if isinstance(order.get(k), str | int)}
    try:
        request = OrderRequest.model_validate(order)
    except ValidationError as err:
        return {"row": row, **named, "result": "failed", "reason": _why(err)}
    try:
        view = capture_order(request, caller)
    except DuplicateOrder as dup:
        return {"row": row, **named, "result": "exists", "order_id": dup.order_id}
    except DomainError as err:  # refused for good (a channel key importing another channel's order ...)
        if isinstance(err, Throttled) or err.status >= 500:
            raise
        return {"row": row, **named, "result": "failed", "reason": err.detail[:_REASON_LENGTH]}
    return {"row": row, **named, "result": "created", "order_id": view.order_id}


def apply_order_chunk(chunk: OrderImportChunk) -> bool:
    """Capture and count one chunk; False if it had been counted already. A transient failure
    raises: the message comes back and its captured orders are found as ``exists``."""
    if LEDGER.chunk_counted(chunk.import_id, chunk.chunk):
        return False
    results = [_apply_row(raw, chunk.caller) for raw in chunk.rows]
    counters = {result: sum(1 for r in results if r["result"] == result) for result in ("created", "exists", "failed")}
    return LEDGER.count_chunk(chunk.import_id, chunk.chunk, counters=counters, rows=results, expires=chunk.expires)


def parse_order_chunk(body: str) -> OrderImportChunk:
    return OrderImportChunk.model_validate_json(body)


def order_import_status(
    caller: Caller, import_id: str, *, limit: int = 100, cursor: str | None = None
) -> dict[str, Any]:
    """Operators and agents see every import; a channel the imports it sent."""
    caller.require("channel", "agent", "ops")
    item = LEDGER.get_import(import_id)
    if item is None or (caller.role == "channel" and item.get("created_by") != caller.principal_id):
        raise NotFound(f"no order import {import_id}")
    rows, next_cursor = LEDGER.rows(import_id, limit=limit, cursor=cursor)
    keep = ("row", "result", "order_id", "channel", "external_id", "reason")
    return {
        "import_id": import_id,
        "status": "completed" if item.get("chunks_done", 0) >= item["chunks"] else "pending",
        "counts": {"rows": item["rows"], **{k: int(item.get(k, 0)) for k in ("created", "exists", "failed")}},
        "rows": [{k: r[k] for k in keep if k in r} for r in rows],
        "next_cursor": next_cursor,
        "created_at": item["created_at"],
    }
