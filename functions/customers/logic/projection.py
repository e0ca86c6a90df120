"""Keeping the read models: an order's facts, its customer's lifetime counters, demand per SKU and day.

Any change under ``ORDER#<id>`` (stream) recomputes that order's facts from its own items
and writes, in one transaction, the new facts (pinned on the revision read) and the
difference from the previous facts to the counters. A redelivered or out-of-order record
recomputes the same facts and writes nothing; two projections of one order racing lose
one condition and the loser reads again. Counters are therefore always the sums of the
stored facts; ``rebuild`` recomputes both from the orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from functions.customers import store
from functions.customers.rules.facts import LIFETIME_FIELDS, demand_delta, lifetime_delta, order_facts
from shared.order.record import load_order
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table

BOOKKEEPING = ("pk", "sk", "type", "revision")
MAX_ATTEMPTS = 5


def _same(stored: Item | None, facts: dict[str, Any]) -> bool:
    return stored is not None and {k: v for k, v in stored.items() if k not in BOOKKEEPING} == facts


def project_order(order_id: str, table: Table | None = None) -> bool:
    """Bring the read models up to the order's current state; True when something was written."""
    table = table or Table()
    for _attempt in attempts(MAX_ATTEMPTS):
        record = load_order(order_id, table)
        if record is None:
            return False
        facts = order_facts(record)
        previous = store.get_facts(facts["day"], order_id, table)
        if _same(previous, facts):
            return False
        ops: list[dict[str, Any]] = [store.facts_put_op(facts, previous)]
        if facts.get("customer_id"):
            lifetime = store.lifetime_add_op(facts["customer_id"], facts["currency"], lifetime_delta(facts, previous))
            if lifetime:
                ops.append(lifetime)
        if previous is None:
            ops.append(store.external_id_entry(facts, str(record.header["external_id"])))
        # At most MAX_DEMAND_SKUS counters (the facts hold no more), so this fits one transaction.
        ops.extend(
            store.demand_add_op(sku, facts["day"], d) for sku, d in sorted(demand_delta(facts, previous).items())
        )
        try:
            table.transact(ops)
            return True
        except ConditionFailed:
            continue  # another projection of this order won: read again
    raise ConditionFailed(f"facts of order {order_id} kept moving")


def order_ids_of_records(records: Iterable[dict[str, Any]]) -> list[str]:
    """The orders whose items a batch of stream records changed, each once, in order of appearance."""
    seen: dict[str, None] = {}
    for record in records:
        change = record.get("dynamodb") or {}
        pk = ((change.get("Keys") or {}).get("pk") or {}).get("S", "")
        if pk.startswith("ORDER#"):
            seen[pk.removeprefix("ORDER#")] = None
    return list(seen)


def rebuild(table: Table | None = None) -> dict[str, int]:
    """Recompute every order's facts and every counter from the orders (operator command).

    Counters are overwritten with the sums of the recomputed facts. Run it while the
    projection's stream consumer is paused (or the table is quiet): a live projection
    writing at the same moment could be overwritten.
    """
    table = table or Table()
    lifetimes: dict[tuple[str, str], dict[str, int]] = {}
    demand: dict[tuple[str, str], int] = {}
    orders = 0
    for order_id in store.all_order_ids(table):
        record = load_order(order_id, table)
        if record is None:
            continue
        orders += 1
        facts = order_facts(record)
        previous = store.get_facts(facts["day"], order_id, table)
        revision = int(previous["revision"]) + 1 if previous else 1
        table.put(
            {
                "pk": store.facts_pk(facts["day"]),
                "sk": store.facts_sk(order_id),
                "type": "order_facts",
                **facts,
                "revision": revision,
            }
        )
        table.put(store.external_id_entry(facts, str(record.header["external_id"]))["Put"]["Item"])
        if facts.get("customer_id"):
            sums = lifetimes.setdefault((facts["customer_id"], facts["currency"]), dict.fromkeys(LIFETIME_FIELDS, 0))
            for name in LIFETIME_FIELDS:
                sums[name] += int(facts[name])
        for sku, units in facts["demand"].items():
            demand[(sku, facts["day"])] = demand.get((sku, facts["day"]), 0) + int(units)
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
    for (sku, day), units in demand.items():
        table.put(
            {
                "pk": store.demand_pk(sku),
                "sk": day,
                "type": "demand",
                "sku": sku,
                "units": units,
                **store.demand_month_keys(sku, day),
            }
        )
    return {"orders": orders, "customers": len({c for c, _ in lifetimes}), "demand_days": len(demand)}
