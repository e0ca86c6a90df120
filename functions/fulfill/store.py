"""Fulfillment orders and shipments: items, keys, write operations and reads.

``ORDER#<id>`` / ``FO#<fo_id>``   one fulfillment order per location and delivery group, with
                                  its lines (quantity, shipped, rejected, cancelled) and the
                                  allocation items it was made from. ``version`` goes up with every write,
                                  and every write is conditioned on it (DynamoDB conditions
                                  cannot do arithmetic, so counts are pinned through it).
                                  gsi1 ``FOLOC#<location>#<nn>`` (the fo id's shard) by
                                  ``<status>#<created_at>#<fo_id>``,
                                  gsi2 ``FO#<fo_id>`` (lookup by id),
                                  gsi3 ``FOSTATUS#<status>`` by ``<created_at>#<fo_id>``.
``FOWAIT#<fo_id>`` / ``WAIT``     the task token of the execution waiting on the fulfillment
                                  order. Apart from it: a cloud token is up to 2 KB, and on the
                                  order it would make each of the warehouse's writes cost
                                  twice the units; nor is it read with the order.
``ORDER#<id>`` / ``SHP#<shp_id>`` one shipment: carrier, tracking number, lines with the first
                                  unit position each ships (shared/order/amounts.py), capture and
                                  tracking status; gsi2 ``TRACKING#<tracking number>`` / ``SHP``.

Statuses and line units are ``functions/fulfill/rules/status.py``; the allocation items a
fulfillment order consumes are the allocate domain's.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime
from typing import Any, cast

from functions.fulfill.rules.status import is_terminal
from shared.clock import iso
from shared.errors import NotFound
from shared.ids import parent_of
from shared.order import keys
from shared.order.record import OrderRecord, load_order
from shared.sharded_index import IndexQuery, read_merged
from shared.shards import every_shard, sharded_key
from shared.table import ConditionFailed, Item, Table, decode_cursor, encode_cursor
from shared.warm_cache import WarmCache

# A location's work (gsi1) is written in this many partitions per location, so that one
# warehouse taking most orders does not write one index partition (1,000 write units a
# second) with every fulfillment order's changes; its readers query them all and merge.
# The same for every location: a small one pays 8 queries (read together) per page.
# Changing it moves fulfillment orders between partitions (see migrate_legacy_location_index).
LOCATION_INDEX_SHARDS = 8


# A parked token outlives any wait (the routing policy allows a year) and then expires.
WAIT_TTL_SECONDS = 400 * 24 * 3600


def fo_sk(fo_id: str) -> str:
    return f"FO#{fo_id}"


def shipment_sk(shipment_id: str) -> str:
    return f"SHP#{shipment_id}"


def location_index_sk(status: str, created_at: str, fo_id: str) -> str:
    return f"{status}#{created_at}#{fo_id}"


def location_index_pk(location_id: str, fo_id: str) -> str:
    return sharded_key(legacy_location_index_pk(location_id), fo_id, LOCATION_INDEX_SHARDS)


def legacy_location_index_pk(location_id: str) -> str:
    """The one partition of a location every fulfillment order was written to before sharding."""
    return f"FOLOC#{location_id}"


def location_index_pks(location_id: str) -> list[str]:
    """Every partition a location's ``gsi1pk`` can hold: the shards, then the legacy one."""
    return every_shard(legacy_location_index_pk(location_id), LOCATION_INDEX_SHARDS)


def status_index_pk(status: str) -> str:
    return f"FOSTATUS#{status}"


def new_fulfillment_order(
    order_id: str,
    fo_id: str,
    location_id: str,
    delivery_group: str,
    lines: list[dict[str, Any]],
    allocations: list[str],
    at: str,
) -> Item:
    return {
        "pk": keys.order_pk(order_id),
        "sk": fo_sk(fo_id),
        "type": "fulfillment_order",
        "fo_id": fo_id,
        "order_id": order_id,
        "location_id": location_id,
        "delivery_group": delivery_group,
        "status": "allocated",
        "lines": lines,
        "allocations": allocations,
        "version": 1,
        "created_at": at,
        "updated_at": at,
        "gsi1pk": location_index_pk(location_id, fo_id),
        "gsi1sk": location_index_sk("allocated", at, fo_id),
        # An id that names its order needs no index entry to be found by (load_fulfillment_order).
        **({} if parent_of(fo_id, "ord") else {"gsi2pk": f"FO#{fo_id}", "gsi2sk": "FO"}),
        "gsi3pk": status_index_pk("allocated"),
        "gsi3sk": keys.created_sort_key(at, fo_id),
    }


def fo_write_op(
    fo: Item,
    *,
    at: str,
    status: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    signal: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Update a fulfillment order pinned on the version read: a concurrent write refuses it.
    ``extra``: further attributes to set (pickup code hash, issue, deadline)."""
    status = status or fo["status"]
    sets = ["version = :next", "updated_at = :at"]
    values: dict[str, Any] = {":next": int(fo["version"]) + 1, ":at": at, ":ver": int(fo["version"])}
    names: dict[str, str] = {}
    if status != fo["status"]:
        sets += ["#st = :st", f"{status}_at = :at", "gsi1sk = :g1", "gsi3pk = :g3"]
        names["#st"] = "status"
        values |= {
            ":st": status,
            ":g1": location_index_sk(status, fo["created_at"], fo["fo_id"]),
            ":g3": status_index_pk(status),
        }
    if lines is not None:
        sets.append("#lines = :lines")
        names["#lines"] = "lines"
        values[":lines"] = lines
    if signal:
        # What the waiting execution has not seen yet (shared with AwaitFulfillment).
        sets.append("#signal = :signal")
        names["#signal"] = "signal"
        values[":signal"] = signal
    for i, (name, value) in enumerate(sorted((extra or {}).items())):
        sets.append(f"#x{i} = :x{i}")
        names[f"#x{i}"] = name
        values[f":x{i}"] = value
    update: dict[str, Any] = {
        "Key": {"pk": fo["pk"], "sk": fo["sk"]},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": "version = :ver",
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return {"Update": update}


def applied(fo: Item, op: dict[str, Any]) -> Item:
    """The fulfillment order as ``op`` (from ``fo_write_op``) leaves it."""
    values = op["Update"]["ExpressionAttributeValues"]
    out = dict(fo, version=values[":next"], updated_at=values[":at"])
    if ":st" in values:
        out |= {"status": values[":st"], f"{values[':st']}_at": values[":at"], "gsi1sk": values[":g1"]}
        out["gsi3pk"] = values[":g3"]
    if ":lines" in values:
        out["lines"] = values[":lines"]
    if ":signal" in values:
        out["signal"] = values[":signal"]
    names = op["Update"].get("ExpressionAttributeNames", {})
    out |= {names[n]: values[":" + n[1:]] for n in names if n.startswith("#x")}
    return out


def park_token(fo_id: str, task_token: str, at: datetime, table: Table | None = None) -> None:
    """Keep the token of the execution now waiting on the fulfillment order (the newest wins)."""
    (table or Table()).put(
        {
            "pk": f"FOWAIT#{fo_id}",
            "sk": "WAIT",
            "type": "fulfillment_wait",
            "task_token": task_token,
            "awaited_at": iso(at),
            "ttl": int(at.timestamp()) + WAIT_TTL_SECONDS,
        }
    )


def park_and_read(order_id: str, fo_id: str, task_token: str, at: datetime, table: Table) -> tuple[Item, list[Item]]:
    """Park the waiting execution's token, then read the fulfillment order's shipments and the
    order back (consistently): whatever changed them before the token was there is in what
    these reads return.

    Shipments first: a shipment is written in one transaction with its fulfillment order, so
    the order read after it shows that write or a later one. Read the other way round, a
    ship between the two reads paired the order as it was before with the new shipment."""
    park_token(fo_id, task_token, at, table)
    shipments = shipments_of(order_id, fo_id=fo_id, table=table)
    fo = table.get(keys.order_pk(order_id), fo_sk(fo_id))
    if fo is None:
        raise NotFound(f"no fulfillment order {fo_id} on order {order_id}")
    return fo, shipments


def parked_token(fo: Item, table: Table | None = None) -> str | None:
    """The token of the execution waiting on ``fo`` (a consistent read), if one was parked.
    A fulfillment order whose wait began before tokens were kept apart still holds its own."""
    wait = (table or Table()).get(f"FOWAIT#{fo['fo_id']}", "WAIT")
    token = (wait or {}).get("task_token") or fo.get("task_token")
    return str(token) if token else None


# --- reads -----------------------------------------------------------------------------


def _order_pk_of(key: Hashable) -> str:
    table_name, fo_id = cast(tuple[str, str], key)
    items, _ = Table(table_name).query(
        "gsi2pk = :pk AND gsi2sk = :sk", {":pk": f"FO#{fo_id}", ":sk": "FO"}, index="gsi2", keys_only=True
    )
    if not items:
        raise NotFound(f"no fulfillment order {fo_id}")
    return str(items[0]["pk"])


# A fulfillment order never moves to another order: an environment asks the index once for
# each one it works (accept, pick, pack and ship then read only the item itself).
_order_pks = WarmCache("fulfillment_order_pks", _order_pk_of, max_entries=10_000)


def load_fulfillment_order(fo_id: str, table: Table | None = None) -> Item:
    """A fulfillment order by id, read consistently from its order's partition: its id names
    the order (``child_id``); one made before ids did is found through the index."""
    table = table or Table()
    order_id = parent_of(fo_id, "ord")
    pk = keys.order_pk(order_id) if order_id else _order_pks.get((table.name, fo_id))
    fo = table.get(pk, fo_sk(fo_id))
    if fo is None:
        raise NotFound(f"no fulfillment order {fo_id}")
    return fo


def load_with_order(fo_id: str, table: Table | None = None) -> tuple[Item, OrderRecord | None]:
    """A fulfillment order and its order as ``load_order`` reads it (None: the order is gone).
    The order's partition holds its fulfillment orders, so an id that names its order costs
    one query for both, not a read of the fulfillment order first."""
    table = table or Table()
    order_id = parent_of(fo_id, "ord")
    if not order_id:
        fo = load_fulfillment_order(fo_id, table)
        return fo, load_order(str(fo["order_id"]), table)
    record = load_order(order_id, table)
    found = [i for i in (record.others.get("FO", []) if record else []) if i["fo_id"] == fo_id]
    if not found:
        raise NotFound(f"no fulfillment order {fo_id}")
    return found[0], record


def in_creation_order(fos: Iterable[Item]) -> list[Item]:
    return sorted(fos, key=lambda i: (i["created_at"], i["fo_id"]))


def fulfillment_orders_of(order_id: str, table: Table | None = None) -> list[Item]:
    return in_creation_order(
        (table or Table()).query_all(
            "pk = :pk AND begins_with(sk, :fo)", {":pk": keys.order_pk(order_id), ":fo": "FO#"}, consistent=True
        )
    )


def open_fulfillment_orders(order_id: str, table: Table | None = None) -> list[Item]:
    return [fo for fo in fulfillment_orders_of(order_id, table) if not is_terminal(fo)]


def shipments_of(order_id: str, *, fo_id: str | None = None, table: Table | None = None) -> list[Item]:
    items = (table or Table()).query_all(
        "pk = :pk AND begins_with(sk, :shp)", {":pk": keys.order_pk(order_id), ":shp": "SHP#"}, consistent=True
    )
    return sorted((i for i in items if fo_id is None or i["fo_id"] == fo_id), key=lambda i: i["created_at"])


def find_shipments_by_tracking(tracking_number: str, table: Table | None = None) -> list[Item]:
    """Every shipment with this tracking number (one, unless a shipment too large for one
    transaction was written as several), each read consistently."""
    table = table or Table()
    index_items = table.query_all("gsi2pk = :pk", {":pk": f"TRACKING#{tracking_number}"}, index="gsi2", keys_only=True)
    found = [table.get(i["pk"], i["sk"]) for i in index_items]
    return sorted((i for i in found if i), key=lambda i: i["shipment_id"])


def find_shipment_by_tracking(tracking_number: str, table: Table | None = None) -> Item | None:
    found = find_shipments_by_tracking(tracking_number, table)
    return found[0] if found else None


def list_fulfillment_orders(
    *,
    location_id: str | None,
    status: str | None,
    within: tuple[str, ...] | None,
    limit: int,
    cursor: str | None,
    table: Table | None = None,
) -> tuple[list[Item], str | None]:
    """Oldest first within a status. A location's work is gsi1 (a status is a prefix of its sort key), its
    shards read and merged by the sort key; all locations' work in one status is gsi3, kept to the locations
    ``within`` when given."""
    table = table or Table()
    if location_id:
        if "#" in location_id:  # no location id has one: it would name another's shard
            return [], None
        # The sort key is <status>#<created_at>#<fo_id>: "~" sorts after every such rest.
        query = IndexQuery(
            index="gsi1",
            pk_name="gsi1pk",
            sk_name="gsi1sk",
            lower=f"{status}#" if status else None,
            upper=f"{status}#~" if status else None,
            forward=True,
        )
        return read_merged(query, location_index_pks(location_id), limit=limit, cursor=cursor, table=table)
    if not status:
        raise ValueError("a location or a status is needed")
    condition, values = "gsi3pk = :pk", {":pk": status_index_pk(status)}
    # The index holds keys only: the locations are checked on the fulfillment orders read.
    allowed = set(within) if within is not None else None
    start = decode_cursor(cursor)
    found: list[Item] = []
    for _ in range(20):  # a filter can leave a page short: read on until it is full
        items, start = table.query(
            condition,
            values,
            index="gsi3",
            where=(lambda fo: fo.get("location_id") in allowed) if allowed is not None else None,
            limit=limit - len(found),
            start_key=start,
        )
        found.extend(items)
        if not start or len(found) >= limit:
            break
    return found, encode_cursor(start)


def migrate_legacy_location_index(location_ids: Iterable[str], table: Table | None = None) -> dict[str, int]:
    """Move every fulfillment order still in a location's legacy partition ``FOLOC#<location>``
    to its shard. Each move is conditional on the item still being there, so racing runs
    move it once and a second run moves nothing."""
    table = table or Table()
    moved = already_moved = 0
    for location_id in location_ids:
        legacy = legacy_location_index_pk(location_id)
        for item in table.query_all("gsi1pk = :pk", {":pk": legacy}, index="gsi1"):
            try:
                table.update(
                    item["pk"],
                    item["sk"],
                    "SET gsi1pk = :shard",
                    values={":shard": location_index_pk(location_id, str(item["fo_id"])), ":legacy": legacy},
                    condition="gsi1pk = :legacy",
                )
                moved += 1
            except ConditionFailed:
                already_moved += 1
    return {"moved": moved, "already_moved": already_moved}
