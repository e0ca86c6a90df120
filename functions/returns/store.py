"""Return items: ``ORDER#<id>`` / ``RET#<ret_id>`` with a ``RETURN#<ret_id>`` pointer.

The return item carries a ``version`` that every write pins (conditions cannot do
arithmetic: received counts and receipts are computed from the version read). Line
buckets are pinned on the values read, the same way.
"""

from __future__ import annotations

from typing import Any

from functions.inventory.api import stock_pk, stock_sk
from shared.errors import NotFound
from shared.order import keys
from shared.order.quantities import LineQuantities, bucket_write
from shared.order.record import OrderRecord, load_order
from shared.table import Item, Table


def return_sk(return_id: str) -> str:
    return f"RET#{return_id}"


def return_pointer_pk(return_id: str) -> str:
    return f"RETURN#{return_id}"


def pointer_item(return_id: str, order_id: str) -> Item:
    return {"pk": return_pointer_pk(return_id), "sk": "RETURN", "type": "return_pointer", "order_id": order_id}


def load_return(return_id: str, table: Table | None = None) -> tuple[OrderRecord, Item]:
    """The order and the return (404 when unknown)."""
    table = table or Table()
    pointer = table.get(return_pointer_pk(return_id), "RETURN")
    record = load_order(pointer["order_id"], table) if pointer else None
    found = [r for r in (record.others.get("RET", []) if record else []) if r["return_id"] == return_id]
    if record is None or not found:
        raise NotFound(f"no return {return_id}")
    return record, found[0]


def versioned_return_put(item: Item, read_version: int) -> dict[str, Any]:
    """Write the return as ``read_version + 1``, only over the version read (0: new)."""
    body: dict[str, Any] = {"Item": {**item, "version": read_version + 1}}
    if read_version == 0:
        body["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        body["ConditionExpression"] = "#v = :v"
        body["ExpressionAttributeNames"] = {"#v": "version"}
        body["ExpressionAttributeValues"] = {":v": read_version}
    return {"Put": body}


def line_buckets_op(line: Item, new: dict[str, int], at: str) -> dict[str, Any]:
    """Set some buckets of a line through the order kernel (checked, and pinned on every
    bucket sharing an invariant with a moved one)."""
    old = LineQuantities.of(line).as_dict()
    return bucket_write(line, at=at, **{bucket: value - old[bucket] for bucket, value in new.items()})


def restock_op(sku: str, location_id: str, quantity: int, at: str) -> dict[str, Any]:
    """Resellable returned units back on hand (and available) at the receiving location."""
    return {
        "Update": {
            "Key": {"pk": stock_pk(sku), "sk": stock_sk(location_id)},
            "UpdateExpression": "SET on_hand = if_not_exists(on_hand, :zero) + :q, "
            "available = if_not_exists(available, :zero) + :q, reserved = if_not_exists(reserved, :zero), "
            "safety_stock = if_not_exists(safety_stock, :zero), last_adjustment = :adj, updated_at = :at, "
            "#type = :type, sku = :sku, location_id = :loc",
            "ExpressionAttributeNames": {"#type": "type"},
            "ExpressionAttributeValues": {
                ":q": quantity,
                ":zero": 0,
                ":adj": {"delta": quantity, "reason": "return received", "at": at},
                ":at": at,
                ":type": "inventory",
                ":sku": sku,
                ":loc": location_id,
            },
        }
    }


def header_key(order_id: str) -> dict[str, str]:
    return {"pk": keys.order_pk(order_id), "sk": keys.ORDER_HEADER}


def return_key(order_id: str, return_id: str) -> dict[str, str]:
    return {"pk": keys.order_pk(order_id), "sk": return_sk(return_id)}
