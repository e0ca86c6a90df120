"""The allocate domain's items: allocations and the orders waiting for stock.

Allocations: which location reserves how many units of which order line. Item
``ORDER#<id>`` / ``ALLOC#<line position>#<round>#<location>``: one per line, location
and allocation round, written in the same transaction as the stock reservation it stands
for, so a unit is reserved exactly when an allocation says so. Fulfillment orders are
made from these items; shipping, rejecting and cancelling consume them (``consume_allocations``).

Orders waiting for stock: the task token of their parked execution, findable by SKU.
``ORDER#<id>`` / ``BACKORDER`` holds the token and the SKUs awaited; one
``BACKORDERSKU#<sku>`` / ``<since>#<order id>`` item per SKU lets a stock arrival find
the orders waiting for it, oldest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.clock import now_iso
from shared.errors import Conflict
from shared.order import keys
from shared.order.quantities import allocated_release, bucket_write
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


def line_allocated_op(order_id: str, position: int, delta: int, line: Item | None = None) -> dict[str, Any]:
    """Move a line's ``allocated`` bucket through the order kernel: a release only needs the
    units still there; an allocation needs the line as read (``allocated + cancelled <=
    ordered`` is checked and its buckets pinned at commit)."""
    if delta < 0:
        return allocated_release({"pk": keys.order_pk(order_id), "sk": keys.line_sk(position)}, -delta)
    if line is None:
        raise ValueError("allocating units needs the line as read")
    return bucket_write(line, allocated=delta)


def held_allocations(order_id: str, table: Table | None = None) -> list[Item]:
    """The order's allocations still holding stock."""
    items = (table or Table()).query_all(
        "pk = :pk AND begins_with(sk, :a)", {":pk": keys.order_pk(order_id), ":a": "ALLOC#"}, consistent=True
    )
    return [i for i in items if i.get("status") == "reserved"]


# --- allocation items behind a fulfillment order: consumed as units ship or are released


def held(allocation: Item) -> int:
    """Units an allocation item still reserves: not shipped, not released."""
    return int(allocation["quantity"]) - int(allocation.get("shipped", 0)) - int(allocation.get("released", 0))


def consume_allocations(
    allocations: list[Item], line_id: str, quantity: int, bucket: str, at: str, *, unlinked: bool = False
) -> tuple[list[dict[str, Any]], list[Item]]:
    """Operations moving ``quantity`` units of a line from held to ``bucket`` (shipped or
    released), oldest allocation first, each pinned on its counts (and with ``unlinked`` on
    being on no fulfillment order: one may have taken it since the read); and the items after."""
    ops: list[dict[str, Any]] = []
    after: list[Item] = []
    left = quantity
    for alloc in sorted(allocations, key=lambda a: a["sk"]):
        if left == 0 or alloc["line_id"] != line_id or alloc.get("status") != "reserved" or held(alloc) == 0:
            after.append(alloc)
            continue
        take = min(left, held(alloc))
        left -= take
        new = dict(alloc)
        new[bucket] = int(alloc.get(bucket, 0)) + take
        if held(new) == 0:
            new["status"] = "shipped" if int(new.get("shipped", 0)) else "released"
        ops.append(
            {
                "Update": {
                    "Key": {"pk": alloc["pk"], "sk": alloc["sk"]},
                    "UpdateExpression": "SET shipped = :s, released = :r, #st = :st, updated_at = :at",
                    "ConditionExpression": "#st = :reserved AND "
                    + pinned("shipped", ":os", int(alloc.get("shipped", 0)))
                    + " AND "
                    + pinned("released", ":or", int(alloc.get("released", 0)))
                    + (" AND attribute_not_exists(fo_id)" if unlinked else ""),
                    "ExpressionAttributeNames": {"#st": "status"},
                    "ExpressionAttributeValues": {
                        ":s": int(new.get("shipped", 0)),
                        ":r": int(new.get("released", 0)),
                        ":st": new["status"],
                        ":reserved": "reserved",
                        ":at": at,
                        ":os": int(alloc.get("shipped", 0)),
                        ":or": int(alloc.get("released", 0)),
                    },
                }
            }
        )
        after.append(new)
    if left:
        raise ValueError(f"line {line_id}: allocations hold {quantity - left} units, not {quantity}")
    return ops, after


def consume_fo_allocations(
    fo: Item, allocations: list[Item], line_id: str, quantity: int, bucket: str, at: str
) -> tuple[list[dict[str, Any]], list[Item]]:
    """``consume_allocations`` for units a fulfillment order works: 409 if it no longer holds them."""
    try:
        return consume_allocations(allocations, line_id, quantity, bucket, at)
    except ValueError as err:
        raise Conflict(f"fulfillment order {fo['fo_id']} no longer holds these units: {err}") from err


def pinned(attribute: str, placeholder: str, old: int) -> str:
    """A condition that ``attribute`` still holds ``old`` (absent counts as 0)."""
    if old == 0:
        return f"(attribute_not_exists({attribute}) OR {attribute} = {placeholder})"
    return f"{attribute} = {placeholder}"


def allocation_keys(fo: Item) -> list[tuple[str, str]]:
    """The keys of the allocation items a fulfillment order was made from."""
    return [(fo["pk"], sk) for sk in fo.get("allocations", [])]


def in_allocation_order(allocations: Iterable[Item]) -> list[Item]:
    return sorted(allocations, key=lambda a: a["sk"])


# --- orders waiting for stock (backorders) ---------------------------------------------


def _sku_pk(sku: str) -> str:
    return f"BACKORDERSKU#{sku}"


def park_backorder(order_id: str, task_token: str, skus: list[str], table: Table | None = None) -> None:
    """Store (or replace) the order's waiting token, under the order and under each SKU."""
    table = table or Table()
    since = now_iso()
    previous = table.get(keys.order_pk(order_id), "BACKORDER")
    items: list[Item] = [
        {
            "pk": keys.order_pk(order_id),
            "sk": "BACKORDER",
            "type": "backorder",
            "order_id": order_id,
            "task_token": task_token,
            "skus": sorted(set(skus)),
            "since": since,
        }
    ]
    items += [
        {"pk": _sku_pk(sku), "sk": f"{since}#{order_id}", "type": "backorder_sku", "order_id": order_id, "sku": sku}
        for sku in sorted(set(skus))
    ]
    table.batch_put(items)
    if previous:
        table.batch_delete((_sku_pk(sku), f"{previous['since']}#{order_id}") for sku in previous.get("skus", []))


def orders_waiting_for(sku: str, *, limit: int = 25, table: Table | None = None) -> list[str]:
    """Ids of the orders waiting for this SKU, oldest first."""
    items, _ = (table or Table()).query("pk = :pk", {":pk": _sku_pk(sku)}, limit=limit)
    return [i["order_id"] for i in items]


def backorder_waiter(order_id: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(keys.order_pk(order_id), "BACKORDER")


def take_backorder(order_id: str, table: Table | None = None) -> Item | None:
    """Remove the order's waiter and return it (None if nobody waits for this order)."""
    table = table or Table()
    waiter = table.get(keys.order_pk(order_id), "BACKORDER")
    if not waiter:
        return None
    table.batch_delete(
        [(keys.order_pk(order_id), "BACKORDER")]
        + [(_sku_pk(sku), f"{waiter['since']}#{order_id}") for sku in waiter.get("skus", [])]
    )
    return waiter
