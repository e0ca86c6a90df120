"""Which SKUs a batch of table changes gave more available stock."""

from __future__ import annotations

from typing import Any

from shared.table import from_ddb


def skus_with_more_stock(records: list[dict[str, Any]]) -> set[str]:
    skus: set[str] = set()
    for record in records:
        change = record.get("dynamodb") or {}
        if record.get("eventName") not in ("INSERT", "MODIFY") or "NewImage" not in change:
            continue
        new = from_ddb(change["NewImage"])
        if new.get("type") != "inventory":
            continue
        old = from_ddb(change["OldImage"]) if "OldImage" in change else {}
        if int(new.get("available", 0)) > max(0, int(old.get("available", 0))):
            skus.add(str(new["sku"]))
    return skus
