"""Keys of an order's items and of the order indexes. Every access pattern is listed in docs/data-model.md.

Each domain builds the keys of its own items in its ``store.py``."""

from __future__ import annotations

from shared.shards import every_shard, shard_of, sharded_key

ORDER_HEADER = "HEADER"

# The orders-by-date index (gsi3) is written in ORDER_INDEX_SHARDS partitions, so that no
# one index partition (1,000 write units a second) takes every header write; readers query
# every partition and merge by the sort key. Changing the count moves orders between
# partitions: it needs the migration of the index (functions/capture/migrate_order_index.py).
ORDER_INDEX_SHARDS = 16
# The one partition every header was written to before sharding. Readers read it too until
# the migration has moved its orders (docs/decisions.md).
LEGACY_ORDER_INDEX_PK = "ORDERS"
# The orders-of-a-channel index (gsi1 ``CHANNEL#<channel>#<nn>``) uses the same shards: one
# channel bringing every order writes it as often as the all-orders index.


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def order_id_of(pk: str) -> str | None:
    """The order id an item's partition key names; None for an item of no order."""
    prefix = order_pk("")
    return pk.removeprefix(prefix) if pk.startswith(prefix) else None


LINE_SK_PREFIX = "LINE#"


def line_sk(position: int) -> str:
    # Zero-padded so lines sort in their order of entry.
    return f"{LINE_SK_PREFIX}{position:05d}"


EVENT_SK_PREFIX = "EVENT#"


def event_sk(at: str, event_id: str) -> str:
    return f"{EVENT_SK_PREFIX}{at}#{event_id}"


def channel_order_pk(channel: str, external_id: str) -> str:
    return f"CHANNELORDER#{channel}#{external_id}"


def customer_pk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def created_sort_key(created_at: str, entity_id: str) -> str:
    return f"{created_at}#{entity_id}"


def order_index_shard(order_id: str) -> int:
    """The order's shard of the orders-by-date index and of its channel's index."""
    return shard_of(order_id, ORDER_INDEX_SHARDS)


def order_index_pk(order_id: str) -> str:
    """The ``gsi3pk`` of an order header."""
    return sharded_key(LEGACY_ORDER_INDEX_PK, order_id, ORDER_INDEX_SHARDS)


def order_index_pks() -> list[str]:
    """Every partition an order header's ``gsi3pk`` can hold: the shards, then the legacy one."""
    return every_shard(LEGACY_ORDER_INDEX_PK, ORDER_INDEX_SHARDS)


def channel_index_pk(channel: str, order_id: str) -> str:
    """The ``gsi1pk`` of an order header: its channel's partition of the order's shard."""
    return sharded_key(legacy_channel_index_pk(channel), order_id, ORDER_INDEX_SHARDS)


def legacy_channel_index_pk(channel: str) -> str:
    """The one partition of a channel every header was written to before sharding."""
    return f"CHANNEL#{channel}"


def channel_index_pks(channel: str) -> list[str]:
    """Every partition a channel's headers' ``gsi1pk`` can hold: the shards, then the legacy one."""
    return every_shard(legacy_channel_index_pk(channel), ORDER_INDEX_SHARDS)
