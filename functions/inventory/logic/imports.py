"""Bulk stock import: the API splits the rows into chunks on the StockImport queue; the
consumer applies each row on its own (``set_stock``) and counts the outcome per chunk.

A row fails alone (invalid, unknown location, a location the sender may not write) and
is recorded with its reason; the others are applied. A redelivered chunk is not counted
twice: rows it already applied are identical to the stored stock and count as applied.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from functions.inventory import store
from functions.inventory.logic.models import FailedRow, ImportCounts, ImportIn, ImportView, StockRow
from functions.inventory.rules.stock import normalize_as_of
from functions.inventory.store import StockRecord, get_locations, set_stock
from shared.api.caller import Caller
from shared.clock import iso, now
from shared.errors import NotFound
from shared.ids import new_id
from shared.queues import send_messages
from shared.settings import get_settings

CHUNK_ROWS = 50
KEEP_DAYS = 30
_REASON_LENGTH = 300


class ImportChunk(BaseModel):
    """One StockImport message."""

    import_id: str
    chunk: int
    first_row: int  # 1-based position of rows[0] in the request
    rows: list[Any]
    # Locations the sender may write; None for operators (all).
    locations: list[str] | None
    expires: int


def start_import(caller: Caller, body: ImportIn) -> ImportView:
    caller.require("wms", "ops")
    import_id = new_id("imp")
    created = now()
    expires = int((created + timedelta(days=KEEP_DAYS)).timestamp())
    allowed = list(caller.locations) if caller.role == "wms" else None
    messages = [
        ImportChunk(
            import_id=import_id,
            chunk=n + 1,
            first_row=start + 1,
            rows=body.rows[start : start + CHUNK_ROWS],
            locations=allowed,
            expires=expires,
        ).model_dump_json()
        for n, start in enumerate(range(0, len(body.rows), CHUNK_ROWS))
    ]
    send_messages(get_settings().stock_import_queue_url, messages)
    # Written after the chunks are queued: an import that could not be queued never shows.
    store.record_import(
        import_id,
        rows=len(body.rows),
        chunks=len(messages),
        created_by=caller.principal_id,
        created_at=iso(created),
        expires=expires,
    )
    return import_status(caller, import_id)


def _why(err: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in err.errors()]
    return "; ".join(parts)[:_REASON_LENGTH]


def _identical(record: StockRecord, row: StockRow) -> bool:
    """The stored stock is exactly this row (a redelivered row that was applied before)."""
    return (
        record.as_of == normalize_as_of(row.as_of)
        and record.on_hand == row.on_hand
        and (row.safety_stock is None or record.safety_stock == row.safety_stock)
    )


def apply_chunk(chunk: ImportChunk) -> bool:
    """Apply and count one chunk; False if it had been counted already."""
    if store.chunk_counted(chunk.import_id, chunk.chunk):
        return False
    parsed: list[tuple[int, StockRow]] = []
    failed: list[dict[str, Any]] = []
    for offset, raw in enumerate(chunk.rows):
        position = chunk.first_row + offset
        try:
            parsed.append((position, StockRow.model_validate(raw)))
        except ValidationError as err:
            named = raw if isinstance(raw, dict) else {}
            failed.append(
                FailedRow(
                    row=position,
                    location_id=str(named["location_id"])[:64] if "location_id" in named else None,
                    sku=str(named["sku"])[:64] if "sku" in named else None,
                    reason=_why(err),
                ).model_dump(exclude_none=True)
            )
    known = get_locations({row.location_id for _, row in parsed})
    applied = stale = 0
    for position, row in parsed:
        reason = None
        if row.location_id not in known:
            reason = f"unknown location {row.location_id}"
        elif chunk.locations is not None and row.location_id not in chunk.locations:
            reason = f"this key may not change stock at {row.location_id}"
        if reason:
            failed.append(FailedRow(row=position, location_id=row.location_id, sku=row.sku, reason=reason).model_dump())
            continue
        record = set_stock(row.location_id, row.sku, row.on_hand, row.safety_stock, row.as_of)
        if record.applied or _identical(record, row):
            applied += 1
        else:
            stale += 1
    failed.sort(key=lambda r: r["row"])
    return store.count_chunk(
        chunk.import_id, chunk.chunk, applied=applied, ignored_stale=stale, failed_rows=failed, expires=chunk.expires
    )


def parse_chunk(body: str) -> ImportChunk:
    return ImportChunk.model_validate(json.loads(body))


def import_status(caller: Caller, import_id: str, *, limit: int = 50, cursor: str | None = None) -> ImportView:
    """Operators and agents see every import, a WMS the imports it sent."""
    caller.require("wms", "agent", "ops")
    item = store.get_import(import_id)
    if item is None or (caller.role == "wms" and item.get("created_by") != caller.principal_id):
        raise NotFound(f"no import {import_id}")
    rows, next_cursor = store.failed_rows(import_id, limit=limit, cursor=cursor)
    return ImportView(
        import_id=import_id,
        status="completed" if item.get("chunks_done", 0) >= item["chunks"] else "pending",
        counts=ImportCounts(
            rows=item["rows"],
            applied=item.get("applied", 0),
            ignored_stale=item.get("ignored_stale", 0),
            failed=item.get("failed", 0),
        ),
        failed_rows=[FailedRow.model_validate({k: r.get(k) for k in FailedRow.model_fields}) for r in rows],
        next_cursor=next_cursor,
        created_at=item["created_at"],
    )
