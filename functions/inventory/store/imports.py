"""Stock import records: the inventory domain's own items.

IMPORT#<imp_id> / IMPORT        rows, chunks, who sent it; counters added by each chunk
IMPORT#<imp_id> / CHUNK#00001   marker: this chunk is counted (written with the counters)
IMPORT#<imp_id> / ROW#00001     a failed row and its reason

Every item expires through ``ttl``. The counters are ADDed, so the API's write of the
import's size and the consumers' counts may land in any order.
"""

from __future__ import annotations

from typing import Any

from shared.table import ConditionFailed, Item, Table, decode_cursor, encode_cursor

HEADER = "IMPORT"


def import_pk(import_id: str) -> str:
    return f"IMPORT#{import_id}"


def chunk_sk(chunk: int) -> str:
    return f"CHUNK#{chunk:05d}"


def row_sk(row: int) -> str:
    return f"ROW#{row:05d}"


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
    (table or Table()).update(
        import_pk(import_id),
        HEADER,
        "SET #type = :type, import_id = :id, #rows = :rows, chunks = :chunks, created_by = :by, "
        "created_at = :at, #ttl = :ttl",
        values={
            ":type": "stock_import",
            ":id": import_id,
            ":rows": rows,
            ":chunks": chunks,
            ":by": created_by,
            ":at": created_at,
            ":ttl": expires,
        },
        names={"#type": "type", "#rows": "rows", "#ttl": "ttl"},
    )


def chunk_counted(import_id: str, chunk: int, table: Table | None = None) -> bool:
    return (table or Table()).get(import_pk(import_id), chunk_sk(chunk)) is not None


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
    """Add one chunk's outcome, once: False if this chunk was already counted.

    The chunk marker, the counters and the failed rows are one transaction (at most 52
    items for a 50-row chunk), so a redelivered message cannot count twice.
    """
    pk = import_pk(import_id)
    ops: list[dict[str, Any]] = [
        {
            "Put": {
                "Item": {"pk": pk, "sk": chunk_sk(chunk), "type": "stock_import_chunk", "ttl": expires},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Update": {
                "Key": {"pk": pk, "sk": HEADER},
                "UpdateExpression": "ADD applied :a, ignored_stale :s, failed :f, chunks_done :one",
                "ExpressionAttributeValues": {":a": applied, ":s": ignored_stale, ":f": len(failed_rows), ":one": 1},
            }
        },
    ]
    for row in failed_rows:
        item = {"pk": pk, "sk": row_sk(row["row"]), "type": "stock_import_row", "ttl": expires, **row}
        ops.append({"Put": {"Item": item}})
    try:
        (table or Table()).transact(ops)
    except ConditionFailed as err:
        if err.reasons[:1] == ["ConditionalCheckFailed"]:
            return False
        raise
    return True


def get_import(import_id: str, table: Table | None = None) -> Item | None:
    """The import's header once the API has recorded it (counters alone are not an import)."""
    item = (table or Table()).get(import_pk(import_id), HEADER)
    return item if item and "chunks" in item else None


def failed_rows(
    import_id: str, *, limit: int, cursor: str | None, table: Table | None = None
) -> tuple[list[Item], str | None]:
    items, last = (table or Table()).query(
        "pk = :pk AND begins_with(sk, :row)",
        {":pk": import_pk(import_id), ":row": "ROW#"},
        limit=limit,
        start_key=decode_cursor(cursor),
        consistent=True,
    )
    return items, encode_cursor(last)
