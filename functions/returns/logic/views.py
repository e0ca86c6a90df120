"""Returns as the API shows them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.order.record import OrderRecord


def return_view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "return_id": item["return_id"],
        "order_id": item["order_id"],
        "status": item["status"],
        "lines": item.get("lines", []),
        "exchange": item.get("exchange", []),
        "exchange_change_id": item.get("exchange_change_id"),
        "expected_refund": item.get("expected_refund", 0),
        "refunded": item.get("refunded", 0),
        "receipts": [{k: v for k, v in r.items() if k != "task_token"} for r in item.get("receipts", [])],
        "change_ids": item.get("change_ids", []),
        "created_at": item["created_at"],
        "updated_at": item.get("updated_at", item["created_at"]),
    }


def return_views(record: OrderRecord) -> list[dict[str, Any]]:
    items = sorted(record.others.get("RET", []), key=lambda r: (r["created_at"], r["return_id"]))
    return [return_view(r) for r in items]
