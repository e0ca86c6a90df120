"""Orders waiting for stock: the task token of their parked execution, findable by SKU.

``ORDER#<id>`` / ``BACKORDER`` holds the token and the SKUs awaited; one
``BACKORDERSKU#<sku>`` / ``<since>#<order id>`` item per SKU lets a stock arrival find
the orders waiting for it, oldest first.
"""

from __future__ import annotations

from shared.clock import now_iso
from shared.order import keys
from shared.table import Item, Table


def _sku_pk(sku: str) -> str:
    return f"BACKORDERSKU#{sku}"


def park(order_id: str, task_token: str, skus: list[str], table: Table | None = None) -> None:
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


def waiting_for(sku: str, *, limit: int = 25, table: Table | None = None) -> list[str]:
    """Ids of the orders waiting for this SKU, oldest first."""
    items, _ = (table or Table()).query("pk = :pk", {":pk": _sku_pk(sku)}, limit=limit)
    return [i["order_id"] for i in items]


def waiter(order_id: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(keys.order_pk(order_id), "BACKORDER")


def take(order_id: str, table: Table | None = None) -> Item | None:
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
