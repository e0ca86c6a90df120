"""Order import files, pure: JSON lines (one POST /v1/orders body per line) or CSV (one
order line per row; consecutive rows with the same channel and external_id are one order).

Each order keeps the number of the file line it starts on, so every result names a line of
the file the sender has. A line that cannot be read becomes an error of its own.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

CSV_COLUMNS = (
    "channel",
    "external_id",
    "placed_at",
    "currency",
    "customer_email",
    "customer_name",
    "customer_phone",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
    "shipping_method",
    "shipping_amount",
    "payment_provider",
    "payment_token",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "tax",
)
REQUIRED_CSV_COLUMNS = frozenset(
    {"channel", "external_id", "currency", "customer_email", "customer_name", "ship_line1", "ship_city"}
    | {"ship_postal_code", "ship_country", "shipping_method", "payment_provider", "payment_token"}
    | {"sku", "quantity", "unit_price"}
)
_LINE_INTEGERS = ("quantity", "unit_price", "discount", "tax")


class UnreadableFile(ValueError):
    pass


@dataclass(frozen=True)
class FileRow:
    """One order of the file: the line it starts on, and the order or why it cannot be read."""

    row: int
    order: dict[str, Any] | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return (
            {"row": self.row, "order": self.order} if self.order is not None else {"row": self.row, "error": self.error}
        )


def is_csv(text: str, content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return True
    if kind in ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/json"):
        return False
    return not text.lstrip().startswith("{")


def read_json_lines(text: str) -> list[FileRow]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            order = json.loads(line)
        except ValueError as err:
            rows.append(FileRow(number, error=f"not JSON: {err}"[:300]))
            continue
        if isinstance(order, dict):
            rows.append(FileRow(number, order=order))
        else:
            rows.append(FileRow(number, error="not a JSON object"))
    return rows


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError as err:
        raise ValueError(f"{name} is not a whole number of minor units or units: {value!r}") from err


def _some(record: dict[str, str], name: str) -> str | None:
    value = (record.get(name) or "").strip()
    return value or None


def _csv_line(record: dict[str, str]) -> dict[str, Any]:
    line: dict[str, Any] = {"sku": record["sku"].strip()}
    for name in _LINE_INTEGERS:
        value = _some(record, name)
        if value is not None:
            line[name] = _integer(value, name)
    return line


def _csv_order(record: dict[str, str]) -> dict[str, Any]:
    address = {
        k: v
        for k, v in {
            "line1": _some(record, "ship_line1"),
            "line2": _some(record, "ship_line2"),
            "city": _some(record, "ship_city"),
            "region": _some(record, "ship_region"),
            "postal_code": _some(record, "ship_postal_code"),
            "country": _some(record, "ship_country"),
        }.items()
        if v is not None
    }
    customer = {"email": _some(record, "customer_email"), "name": _some(record, "customer_name")}
    if _some(record, "customer_phone"):
        customer["phone"] = _some(record, "customer_phone")
    order: dict[str, Any] = {
        "channel": _some(record, "channel"),
        "external_id": _some(record, "external_id"),
        "currency": _some(record, "currency"),
        "customer": customer,
        "shipping": {
            "address": address,
            "method": _some(record, "shipping_method"),
            "amount": _integer(_some(record, "shipping_amount") or "0", "shipping_amount"),
        },
        "payment": {"provider": _some(record, "payment_provider"), "token": _some(record, "payment_token")},
        "lines": [],
    }
    if _some(record, "placed_at"):
        order["placed_at"] = _some(record, "placed_at")
    return order


def read_csv(text: str) -> list[FileRow]:
    """Orders of a CSV file with a header row; line numbers count the header as line 1.
    A line that cannot be read fails its whole order (never an order missing a line)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = REQUIRED_CSV_COLUMNS - set(reader.fieldnames or ())
    if missing:
        raise UnreadableFile(f"the CSV header lacks {', '.join(sorted(missing))}")
    groups: list[tuple[int, tuple[str, str], list[dict[str, str]]]] = []
    for record in reader:
        key = ((record.get("channel") or "").strip(), (record.get("external_id") or "").strip())
        if groups and groups[-1][1] == key:
            groups[-1][2].append(record)
        else:
            groups.append((reader.line_num, key, [record]))
    rows = []
    for number, _key, records in groups:
        try:
            order = _csv_order(records[0])
            order["lines"] = [_csv_line(r) for r in records]
        except ValueError as err:
            rows.append(FileRow(number, error=str(err)[:300]))
            continue
        rows.append(FileRow(number, order=order))
    return rows


def read_order_file(text: str, content_type: str) -> list[FileRow]:
    rows = read_csv(text) if is_csv(text, content_type) else read_json_lines(text)
    if not rows:
        raise UnreadableFile("the file holds no orders")
    return rows
