"""Capture's reads of the order indexes: orders by channel, customer, or all, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.order import keys
from shared.table import Item, Table, decode_cursor, encode_cursor


@dataclass(frozen=True)
class OrderFilter:
    channel: str | None = None
    customer_id: str | None = None
    status: str | None = None
    created_after: str | None = None
    created_before: str | None = None
    fulfillment_status: str | None = None
    # Orders not changed since (an open order unchanged for long is stuck somewhere).
    updated_before: str | None = None


# The GSI chosen per filter, most selective first. Each holds the header only.
_INDEX_BY_FILTER = (
    ("customer_id", "gsi2", "gsi2pk", "gsi2sk", keys.customer_pk),
    ("channel", "gsi1", "gsi1pk", "gsi1sk", lambda c: f"CHANNEL#{c}"),
)


def list_orders(
    flt: OrderFilter, *, limit: int, cursor: str | None, table: Table | None = None
) -> tuple[list[Item], str | None]:
    """Newest first. Status is a filter on the chosen index; dates bound its sort key."""
    table = table or Table()
    index, pk_name, sk_name, pk_value = "gsi3", "gsi3pk", "gsi3sk", keys.ALL_ORDERS
    for attr, idx, pkn, skn, build in _INDEX_BY_FILTER:
        value = getattr(flt, attr)
        if value:
            index, pk_name, sk_name, pk_value = idx, pkn, skn, build(value)
            break
    condition = f"{pk_name} = :pk"
    values: dict[str, Any] = {":pk": pk_value}
    if flt.created_after and flt.created_before:
        condition += f" AND {sk_name} BETWEEN :after AND :before"
        values.update({":after": flt.created_after, ":before": flt.created_before + "~"})
    elif flt.created_after:
        condition += f" AND {sk_name} >= :after"
        values[":after"] = flt.created_after
    elif flt.created_before:
        condition += f" AND {sk_name} <= :before"
        values[":before"] = flt.created_before + "~"
    filters = []
    names: dict[str, str] = {}
    if flt.status:
        filters.append("#status = :status")
        names["#status"] = "status"
        values[":status"] = flt.status
    if flt.fulfillment_status:
        filters.append("#fs = :fs")
        names["#fs"] = "fulfillment_status"
        values[":fs"] = flt.fulfillment_status
    if flt.updated_before:
        filters.append("updated_at < :updated_before")
        values[":updated_before"] = flt.updated_before
    if flt.channel and index != "gsi1":
        filters.append("channel = :channel")
        values[":channel"] = flt.channel
    start = decode_cursor(cursor)
    found: list[Item] = []
    # A filter can leave a page short: keep reading until it is full or the index ends.
    for _ in range(20):
        items, start = table.query(
            condition,
            values,
            index=index,
            names=names or None,
            filter_expression=" AND ".join(filters) or None,
            limit=limit - len(found),
            start_key=start,
            forward=False,
        )
        found.extend(items)
        if not start or len(found) >= limit:
            break
    return found, encode_cursor(start)
