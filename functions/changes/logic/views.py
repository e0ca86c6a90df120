"""Change orders as the API shows them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.changes.rules.figures import changes_of
from shared.order.record import OrderRecord


def change_view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "change_id": item["change_id"],
        "kind": item["kind"],
        "reason": item.get("reason", ""),
        "lines": item.get("lines", []),
        "totals": item["totals"],
        "refund": item.get("refund", {"amount": 0}),
        "release": item.get("release", {"amount": 0}),
        "return_id": item.get("return_id"),
        "created_at": item["created_at"],
    }


def change_views(record: OrderRecord) -> list[dict[str, Any]]:
    return [change_view(c) for c in changes_of(record)]
