"""Keys of an order's items and of the order indexes. Every access pattern is listed in docs/data-model.md.

Each domain builds the keys of its own items in its ``store.py``."""

from __future__ import annotations

ORDER_HEADER = "HEADER"
ALL_ORDERS = "ORDERS"


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def line_sk(position: int) -> str:
    # Zero-padded so lines sort in their order of entry.
    return f"LINE#{position:05d}"


def event_sk(at: str, event_id: str) -> str:
    return f"EVENT#{at}#{event_id}"


def channel_order_pk(channel: str, external_id: str) -> str:
    return f"CHANNELORDER#{channel}#{external_id}"


def customer_pk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def created_sort_key(created_at: str, entity_id: str) -> str:
    return f"{created_at}#{entity_id}"
