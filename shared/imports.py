"""Bulk imports applied through a queue in chunks: the ledger of one import's outcome.

IMPORT#<imp_id> / IMPORT        rows, chunks, who sent it; counters added by each chunk
IMPORT#<imp_id> / CHUNK#00001   marker: this chunk is counted (written with the counters)
IMPORT#<imp_id> / ROW#00001     a row's recorded result (which rows are recorded is the caller's choice)

Every item expires through ``ttl``. The counters are ADDed, so the API's write of the
import's size and the consumers' counts may land in any order; a chunk's marker, counters
and rows are one transaction, so a redelivered chunk never counts twice. Each kind of
import (``stock_import``, ``order_import``) names its items' ``type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.table import ConditionFailed, Item, Table, decode_cursor, encode_cursor

HEADER = "IMPORT"
# A chunk's transaction holds its marker, the header and one item per recorded row.
MAX_ROWS_PER_CHUNK = 98


def import_pk(import_id: str) -> str:
    return f"IMPORT#{import_id}"


def chunk_sk(chunk: int) -> str:
    return f"CHUNK#{chunk:05d}"


def row_sk(row: int) -> str:
    return f"ROW#{row:05d}"


class ImportLedger:
    def __init__(self, kind: str):
        self.kind = kind

    def record_import(
        self,
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
                ":type": self.kind,
                ":id": import_id,
                ":rows": rows,
                ":chunks": chunks,
                ":by": created_by,
                ":at": created_at,
                ":ttl": expires,
            },
            names={"#type": "type", "#rows": "rows", "#ttl": "ttl"},
        )

    def chunk_counted(self, import_id: str, chunk: int, table: Table | None = None) -> bool:
        return (table or Table()).get(import_pk(import_id), chunk_sk(chunk)) is not None

    def count_chunk(
        self,
        import_id: str,
        chunk: int,
        *,
        counters: Mapping[str, int],
        rows: list[dict[str, Any]],
        expires: int,
        table: Table | None = None,
    ) -> bool:
        """Add one chunk's counters and rows (each with its ``row`` number), once: False if
        this chunk was already counted."""
        if len(rows) > MAX_ROWS_PER_CHUNK:
            raise ValueError(f"a chunk records at most {MAX_ROWS_PER_CHUNK} rows")
        pk = import_pk(import_id)
        names = {f"#c{i}": name for i, name in enumerate(counters)}
        values: dict[str, Any] = {f":c{i}": value for i, value in enumerate(counters.values())} | {":one": 1}
        adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counters)))
        ops: list[dict[str, Any]] = [
            {
                "Put": {
                    "Item": {"pk": pk, "sk": chunk_sk(chunk), "type": f"{self.kind}_chunk", "ttl": expires},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "Key": {"pk": pk, "sk": HEADER},
                    "UpdateExpression": f"ADD {adds + ', ' if adds else ''}chunks_done :one",
                    "ExpressionAttributeValues": values,
                    **({"ExpressionAttributeNames": names} if names else {}),
                }
            },
        ]
        for row in rows:
            item = {"pk": pk, "sk": row_sk(row["row"]), "type": f"{self.kind}_row", "ttl": expires, **row}
            ops.append({"Put": {"Item": item}})
        try:
            (table or Table()).transact(ops)
        except ConditionFailed as err:
            if err.reasons[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def get_import(self, import_id: str, table: Table | None = None) -> Item | None:
        """The import's header once the API has recorded it (counters alone are not an import)."""
        item = (table or Table()).get(import_pk(import_id), HEADER)
        return item if item and "chunks" in item and item.get("type") == self.kind else None

    def rows(
        self, import_id: str, *, limit: int, cursor: str | None, table: Table | None = None
    ) -> tuple[list[Item], str | None]:
        items, last = (table or Table()).query(
            "pk = :pk AND begins_with(sk, :row)",
            {":pk": import_pk(import_id), ":row": "ROW#"},
            limit=limit,
            start_key=decode_cursor(cursor),
            consistent=True,
        )
        return items, encode_cursor(last)
