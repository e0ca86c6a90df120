"""Capture's reads of the order indexes: orders by channel, customer, or all, newest first; and the
migration of headers indexed before the all-orders and channel indexes were sharded."""

from __future__ import annotations

from dataclasses import dataclass

from shared.order import keys
from shared.sharded_index import IndexQuery, read_merged, read_one_partition
from shared.table import ConditionFailed, Item, Table


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


def _query_for(flt: OrderFilter, index: str, pk_name: str, sk_name: str) -> IndexQuery:
    """The index holds keys only: dates bound its sort key, every other filter is checked on
    the headers read (the current ones: an order whose status moved on is not listed under
    the old one)."""

    def wanted(header: Item) -> bool:
        if flt.status and header.get("status") != flt.status:
            return False
        if flt.fulfillment_status and header.get("fulfillment_status") != flt.fulfillment_status:
            return False
        updated = header.get("updated_at")
        if flt.updated_before and (updated is None or str(updated) >= flt.updated_before):
            return False
        return not (flt.channel and index != "gsi1" and header.get("channel") != flt.channel)

    filtered = flt.status or flt.fulfillment_status or flt.updated_before or (flt.channel and index != "gsi1")
    return IndexQuery(
        index=index,
        pk_name=pk_name,
        sk_name=sk_name,
        lower=flt.created_after,
        # The sort key is <created_at>#<id>: "~" sorts after every id, so the bound takes that instant in.
        upper=flt.created_before + "~" if flt.created_before else None,
        where=wanted if filtered else None,
    )


def list_orders(
    flt: OrderFilter, *, limit: int, cursor: str | None, table: Table | None = None
) -> tuple[list[Item], str | None]:
    """Newest first. The index is chosen by the most selective filter (customer, channel,
    else all orders); status and the rest are filters on it, dates bound its sort key.
    The channel and all-orders indexes are sharded: their shards are read and merged."""
    table = table or Table()
    if flt.customer_id:
        query = _query_for(flt, "gsi2", "gsi2pk", "gsi2sk")
        return read_one_partition(query, keys.customer_pk(flt.customer_id), limit=limit, cursor=cursor, table=table)
    if flt.channel:
        if "#" in flt.channel:  # no channel has one (capture's pattern): it would name another's shard
            return [], None
        query = _query_for(flt, "gsi1", "gsi1pk", "gsi1sk")
        return read_merged(query, keys.channel_index_pks(flt.channel), limit=limit, cursor=cursor, table=table)
    query = _query_for(flt, "gsi3", "gsi3pk", "gsi3sk")
    return read_merged(query, keys.order_index_pks(), limit=limit, cursor=cursor, table=table)


def migrate_legacy_order_index(table: Table | None = None) -> dict[str, int]:
    """Move every header still in the legacy all-orders partition to its shard.

    Each move is conditional on the header still being in the legacy partition, so runs
    that race each other move each header once; running it again moves nothing new. One
    pass over the partition: a header an older deployment writes there during the pass is
    moved by the next run (readers read the partition meanwhile).
    """
    table = table or Table()
    moved = already_moved = 0
    legacy = keys.LEGACY_ORDER_INDEX_PK
    for header in table.query_all("gsi3pk = :pk", {":pk": legacy}, index="gsi3"):
        shard = keys.order_index_pk(str(header["order_id"]))
        try:
            table.update(
                header["pk"],
                header["sk"],
                "SET gsi3pk = :shard",
                values={":shard": shard, ":legacy": legacy},
                condition="gsi3pk = :legacy",
            )
            moved += 1
        except ConditionFailed:
            already_moved += 1
    return {"moved": moved, "already_moved": already_moved}


def migrate_legacy_channel_index(table: Table | None = None) -> dict[str, int]:
    """Move every header still in its channel's legacy partition ``CHANNEL#<channel>`` to its
    shard ``CHANNEL#<channel>#<nn>``.

    Channels are not listed anywhere, so this reads every header through the all-orders
    index (once, a few read units per thousand orders) and moves those whose ``gsi1pk`` is
    their channel's legacy partition; each move is conditional on that, as above.
    """
    table = table or Table()
    moved = already_moved = 0
    for partition in keys.order_index_pks():
        for header in table.query_all("gsi3pk = :pk", {":pk": partition}, index="gsi3"):
            legacy = keys.legacy_channel_index_pk(str(header["channel"]))
            if header.get("gsi1pk") != legacy:
                continue
            try:
                table.update(
                    header["pk"],
                    header["sk"],
                    "SET gsi1pk = :shard",
                    values={
                        ":shard": keys.channel_index_pk(str(header["channel"]), str(header["order_id"])),
                        ":legacy": legacy,
                    },
                    condition="gsi1pk = :legacy",
                )
                moved += 1
            except ConditionFailed:
                already_moved += 1
    return {"moved": moved, "already_moved": already_moved}
