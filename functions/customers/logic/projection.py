"""Keeping the read models: an order's facts, its customer's lifetime counters, demand per SKU and day.

Any change under ``ORDER#<id>`` (stream) recomputes that order's facts from its own items
and writes, in one transaction, the new facts (pinned on the revision read) and the
difference from the previous facts to the counters. A redelivered or out-of-order record
recomputes the same facts and writes nothing; two projections of one order racing lose
one condition and the loser reads again. Counters are therefore always the sums of the
stored facts; ``rebuild`` recomputes both from the orders.

The facts and the demand counters are written in the order's shard (store.py): the same
for every projection of the order, so a change moves the order's own contribution.
Facts still in the unsharded legacy partition move to the shard on their next change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from functions.customers import store
from functions.customers.rules.facts import (
    LIFETIME_FIELDS,
    demand_delta,
    lifetime_delta,
    may_change_facts,
    order_facts,
)
from shared.order import keys
from shared.order.record import get_header, load_order
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table, from_ddb

BOOKKEEPING = ("pk", "sk", "type", "revision")
MAX_ATTEMPTS = 5


def _same(stored: Item | None, facts: dict[str, Any]) -> bool:
    return stored is not None and {k: v for k, v in stored.items() if k not in BOOKKEEPING} == facts


def project_order(order_id: str, table: Table | None = None, *, lines_only: bool = False) -> bool:
    """Bring the read models up to the order's current state; True when something was written.

    ``lines_only``: the changes were new lines and nothing else, as when capture writes an
    order's lines before its header. Until the header is there, its own record is still to
    come, so one header read replaces reading every line (a 2,000-line order's lines arrive
    in some twenty stream batches)."""
    table = table or Table()
    if lines_only and get_header(order_id, table) is None:
        return False
    for _attempt in attempts(MAX_ATTEMPTS):
        record = load_order(order_id, table)
        if record is None:
            return False
        facts = order_facts(record)
        previous = store.get_facts(facts["day"], order_id, table)
        if _same(previous, facts):
            return False
        ops: list[dict[str, Any]] = store.facts_put_ops(facts, previous)
        if facts.get("customer_id"):
            lifetime = store.lifetime_add_op(facts["customer_id"], facts["currency"], lifetime_delta(facts, previous))
            if lifetime:
                ops.append(lifetime)
        if previous is None:
            # Outside the transaction (one write unit, not two): the entry names an order
            # that exists, so it is never wrong to have, and writing it again changes nothing.
            table.put(store.external_id_entry(facts, str(record.header["external_id"]))["Put"]["Item"])
        demand = demand_delta(facts, previous)
        _mark_demand_days(facts, previous, table)
        # At most MAX_DEMAND_SKUS counters (the facts hold no more), so this fits one transaction.
        ops.extend(store.demand_add_op(sku, facts["day"], d, order_id) for sku, d in sorted(demand.items()))
        try:
            table.transact(ops)
            return True
        except ConditionFailed:
            continue  # another projection of this order won: read again
    raise ConditionFailed(f"facts of order {order_id} kept moving")


def _mark_demand_days(facts: dict[str, Any], previous: Item | None, table: Table) -> None:
    """The day markers of the SKUs this order newly has demand for (the forecast batch's list).

    Written before the counters, outside their transaction (which stays within 100 items):
    a marker is never wrong to have, and one missing would hide a SKU's demand. An order
    that already had demand for a SKU was marked when it first had it, so only new SKUs
    cost a read; a marker already there is not written again, so its index entry is
    written once per SKU and day, not once per order."""
    before = (previous or {}).get("demand") or {}
    new_skus = [sku for sku, units in facts["demand"].items() if int(units) > 0 and not int(before.get(sku, 0))]
    missing = store.missing_demand_days(((sku, facts["day"]) for sku in new_skus), table)
    if missing:
        store.put_demand_days(missing, table)


def orders_of_records(records: Iterable[dict[str, Any]]) -> dict[str, bool]:
    """The orders whose facts a batch of stream records may have changed, each once, in
    order of appearance, each with whether its records only added lines.

    A record that leaves what the facts read as it was (an authorization's totals on the
    header, a fulfillment order linked to an allocation, a shipment's tracking) changes
    no read model: its order is not read again for it."""
    orders: dict[str, bool] = {}
    for record in records:
        change = record.get("dynamodb") or {}
        key = change.get("Keys") or {}
        order_id = keys.order_id_of((key.get("pk") or {}).get("S", ""))
        if order_id is not None and _may_change_facts(change):
            sk = (key.get("sk") or {}).get("S", "")
            new_line = record.get("eventName") == "INSERT" and sk.startswith(keys.LINE_SK_PREFIX)
            orders[order_id] = orders.get(order_id, True) and new_line
    return orders


def _may_change_facts(change: dict[str, Any]) -> bool:
    if "NewImage" not in change:
        return True  # no image to tell by: read the order
    old = change.get("OldImage")
    return may_change_facts(from_ddb(old) if old is not None else None, from_ddb(change["NewImage"]))


def rebuild(table: Table | None = None) -> dict[str, int]:
    """Recompute every order's facts and every counter from the orders (operator command).

    Counters are overwritten with the sums of the recomputed facts. Run it while the
    projection's stream consumer is paused (or the table is quiet): a live projection
    writing at the same moment could be overwritten.
    """
    table = table or Table()
    lifetimes: dict[tuple[str, str], dict[str, int]] = {}
    demand: dict[tuple[str, str, str], int] = {}  # (sku, day, shard's pk) -> units
    orders = 0
    for order_id in store.all_order_ids(table):
        record = load_order(order_id, table)
        if record is None:
            continue
        orders += 1
        facts = order_facts(record)
        previous = store.get_facts(facts["day"], order_id, table)
        revision = int(previous["revision"]) + 1 if previous else 1
        item = {
            "pk": store.facts_pk(facts["day"], order_id),
            "sk": store.facts_sk(order_id),
            "type": "order_facts",
            **facts,
            "revision": revision,
        }
        table.put(item)
        if previous is not None and previous["pk"] != item["pk"]:
            table.batch_delete([(previous["pk"], previous["sk"])])  # moved out of the legacy partition
        table.put(store.external_id_entry(facts, str(record.header["external_id"]))["Put"]["Item"])
        if facts.get("customer_id"):
            sums = lifetimes.setdefault((facts["customer_id"], facts["currency"]), dict.fromkeys(LIFETIME_FIELDS, 0))
            for name in LIFETIME_FIELDS:
                sums[name] += int(facts[name])
        for sku, units in facts["demand"].items():
            key = (sku, facts["day"], store.demand_pk(sku, order_id))
            demand[key] = demand.get(key, 0) + int(units)
    for (customer_id, currency), sums in lifetimes.items():
        table.put(
            {
                "pk": f"CUSTOMER#{customer_id}",
                "sk": store.lifetime_sk(currency),
                "type": "customer_lifetime",
                "customer_id": customer_id,
                "currency": currency,
                **sums,
            }
        )
    days = sorted({(sku, day) for sku, day, _pk in demand})
    # Every shard's counter of a day is written, zero too: none keeps a delta the sums no longer hold.
    table.batch_put(
        {"pk": pk, "sk": day, "type": "demand", "sku": sku, "units": demand.get((sku, day, pk), 0)}
        for sku, day in days
        for pk in store.demand_shard_pks(sku)
    )
    store.put_demand_days(days, table)
    # The unsharded counters: every order they counted is now in its shard's counter.
    table.batch_delete((store.legacy_demand_pk(sku), day) for sku, day in days)
    return {"orders": orders, "customers": len({c for c, _ in lifetimes}), "demand_days": len(days)}
