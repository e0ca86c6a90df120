"""Stock import records: the ledger of shared/imports.py, kind ``stock_import``; the rows
it records are the failed ones."""

from __future__ import annotations

from typing import Any

from shared.imports import ImportLedger, chunk_sk, import_pk, row_sk
from shared.table import Item, Table

__all__ = [
    "chunk_counted",
    "chunk_sk",
    "count_chunk",
    "failed_rows",
    "get_import",
    "import_pk",
    "record_import",
    "row_sk",
]

LEDGER = ImportLedger("stock_import")


def record_import(
    import_id: str,
    *,
    rows: int,
    chunks: int,
    created_by: str,
    created_at: str,
    expires: int,
    table: Table | None = None,
) -> None:
    LEDGER.record_import(
        import_id, rows=rows, chunks=chunks, created_by=created_by, created_at=created_at, expires=expires, table=table
    )


def chunk_counted(import_id: str, chunk: int, table: Table | None = None) -> bool:
    return LEDGER.chunk_counted(import_id, chunk, table)


def count_chunk(
    import_id: str,
    chunk: int,
    *,
    applied: int,
    ignored_stale: int,
    failed_rows: list[dict[str, Any]],
    expires: int,
    table: Table | None = None,
) -> bool:
    """Add one chunk's outcome, once: False if this chunk was already counted."""
    counters = {"applied": applied, "ignored_stale": ignored_stale, "failed": len(failed_rows)}
    return LEDGER.count_chunk(import_id, chunk, counters=counters, rows=failed_rows, expires=expires, table=table)


def get_import(import_id: str, table: Table | None = None) -> Item | None:
    return LEDGER.get_import(import_id, table)


def failed_rows(
    import_id: str, *, limit: int, cursor: str | None, table: Table | None = None
) -> tuple[list[Item], str | None]:
    return LEDGER.rows(import_id, limit=limit, cursor=cursor, table=table)
