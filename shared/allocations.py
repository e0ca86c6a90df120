"""Allocations: which location reserves how many units of which order line.

Item ``ORDER#<id>`` / ``ALLOC#<line position>#<round>#<location>``: one per line, location
and allocation round, written in the same transaction as the stock reservation it stands
for, so a unit is reserved exactly when an allocation says so. Fulfillment orders are
made from these items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.order import keys
from shared.table import Item, Table

MAX_TRANSACTION_ITEMS = 100


@dataclass(frozen=True)
class Reservation:
    line_position: int
    line_id: str
    sku: str
    location_id: str
    quantity: int


def alloc_sk(position: int, allocation_round: int, location_id: str) -> str:
    return f"ALLOC#{position:05d}#{allocation_round:03d}#{location_id}"


def allocation_item(order_id: str, r: Reservation, allocation_round: int, at: str) -> Item:
    return {
        "pk": keys.order_pk(order_id),
        "sk": alloc_sk(r.line_position, allocation_round, r.location_id),
        "type": "allocation",
        "order_id": order_id,
        "line_id": r.line_id,
        "line_position": r.line_position,
        "sku": r.sku,
        "location_id": r.location_id,
        "quantity": r.quantity,
        "status": "reserved",
        "round": allocation_round,
        "created_at": at,
    }


def line_allocated_op(order_id: str, position: int, delta: int) -> dict[str, Any]:
    """Move a line's ``allocated`` bucket; never past what is ordered and not cancelled."""
    update: dict[str, Any] = {
        "Key": {"pk": keys.order_pk(order_id), "sk": keys.line_sk(position)},
        "UpdateExpression": "SET quantities.allocated = if_not_exists(quantities.allocated, :zero) + :d",
        "ExpressionAttributeValues": {":d": delta, ":zero": 0},
    }
    return {"Update": update}


def held_allocations(order_id: str, table: Table | None = None) -> list[Item]:
    """The order's allocations still holding stock."""
    items = (table or Table()).query_all(
        "pk = :pk AND begins_with(sk, :a)", {":pk": keys.order_pk(order_id), ":a": "ALLOC#"}, consistent=True
    )
    return [i for i in items if i.get("status") == "reserved"]
