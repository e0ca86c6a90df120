"""The sharded read models: an order's facts and demand stay in its shard however often it is
projected, readers give the same figures from shards and from data written before sharding,
and a SKU's month index entry is written once per SKU and day, not once per order."""

from __future__ import annotations

from typing import Any

import pytest

from functions.customers import store
from functions.customers.logic.projection import project_order, rebuild
from functions.customers.rules.facts import placed_at
from functions.reports.handlers.api import handler as reports_handler
from shared.order.record import load_order
from shared.table import Table
from tests.integration.conftest import reads_of_partition, stock_up
from tests.integration.test_cancel_and_adjust import (
    LOCATION,
    capture,
    line_id,
    order_body,
    post_change,
    released_to_fulfillment,
)
from tests.integration.test_customers_and_reports import get, settled


def _one_sku_order(external_id: str, sku: str, quantity: int) -> str:
    lines = [{"sku": sku, "quantity": quantity, "unit_price": 1000}, {"sku": "OTHER-Z", "quantity": 1, "unit_price": 5}]
    order = capture(order_body(external_id, lines=lines, promotions=[]))
    released_to_fulfillment(order["order_id"])
    return str(order["order_id"])


def _day(order_id: str) -> str:
    return placed_at(load_order(order_id).header)[:10]


def _counters(sku: str, day: str) -> dict[str, int]:
    """Every stored demand counter of the SKU and day, by partition key."""
    table = Table()
    return {pk: int(item["units"]) for pk in store.demand_pks(sku) if (item := table.get(pk, day)) is not None}


def _month_entries(day: str) -> list[dict[str, Any]]:
    return list(Table().query_all("gsi1pk = :pk", {":pk": f"DEMANDSKUS#{day[:7]}"}, index="gsi1"))


def _summary(day: str) -> dict[str, Any]:
    status, _, report = get(
        reports_handler, "/v1/reports/summary", "/v1/reports/summary", query={"from": day, "to": day}
    )
    assert status == 200, report
    return dict(report)


def test_an_orders_facts_and_demand_stay_in_its_shard_when_projected_again_and_after_a_change(aws):
    stock_up({"SHARD-A": 20, "OTHER-Z": 20}, location_id=LOCATION)
    order_id = _one_sku_order("SHARD-1", "SHARD-A", 3)
    settled([order_id])
    day = _day(order_id)
    facts = Table().get(store.facts_pk(day, order_id), store.facts_sk(order_id))
    assert facts is not None and facts["pk"] == f"FACTS#{day}#{store.facts_shard(order_id):02d}"
    assert Table().get(store.legacy_facts_pk(day), store.facts_sk(order_id)) is None
    assert _counters("SHARD-A", day) == {store.demand_pk("SHARD-A", order_id): 3}

    # Projected again: nothing to write, nothing moves.
    assert project_order(order_id) is False
    assert _counters("SHARD-A", day) == {store.demand_pk("SHARD-A", order_id): 3}

    # A change (a line cancelled) rewrites the facts in the same shard; the demand stays where it was.
    record = load_order(order_id)
    body = {"lines": [{"line_id": line_id(record, "OTHER-Z"), "quantity": 1}], "reason": "customer changed mind"}
    status, _, change = post_change(order_id, "cancel", body, key="dev-agent-key")
    assert status in (200, 201), change
    settled([order_id])
    moved = Table().get(store.facts_pk(day, order_id), store.facts_sk(order_id))
    assert moved is not None and moved["units_cancelled"] == 1 and moved["revision"] > facts["revision"]
    assert [f["order_id"] for f in store.facts_of_day(day)] == [order_id]
    assert _counters("SHARD-A", day) == {store.demand_pk("SHARD-A", order_id): 3}
    assert store.demand_history("SHARD-A", day, day) == {day: 3}


def test_an_orders_facts_are_looked_for_in_its_shard_and_the_legacy_partition_in_one_request(aws, monkeypatch):
    stock_up({"SHARD-L": 20, "OTHER-Z": 20}, location_id=LOCATION)
    order_id = _one_sku_order("SHARD-LOOKUP", "SHARD-L", 2)
    settled([order_id])
    day, sk = _day(order_id), store.facts_sk(order_id)
    shard_pk, legacy_pk = store.facts_pk(day, order_id), store.legacy_facts_pk(day)
    reads = reads_of_partition(monkeypatch, shard_pk, legacy_pk)

    facts = store.get_facts(day, order_id)
    assert facts is not None and facts["pk"] == shard_pk
    assert reads == [("BatchGetItem", [sk, sk])]

    # Projected before sharding and not moved yet: found in the legacy partition, still one request.
    table = Table()
    table.put({**facts, "pk": legacy_pk})
    table.batch_delete([(shard_pk, sk)])
    reads.clear()
    legacy = store.get_facts(day, order_id)
    assert legacy is not None and legacy["pk"] == legacy_pk
    assert reads == [("BatchGetItem", [sk, sk])]

    # Never projected (the first projection of an order): neither, in one request.
    table.batch_delete([(legacy_pk, sk)])
    reads.clear()
    assert store.get_facts(day, order_id) is None
    assert reads == [("BatchGetItem", [sk, sk])]


def test_readers_give_the_same_figures_from_data_written_before_sharding(aws):
    stock_up({"LEGACY-A": 20, "OTHER-Z": 20}, location_id=LOCATION)
    first = _one_sku_order("LEGACY-1", "LEGACY-A", 2)
    second = _one_sku_order("LEGACY-2", "LEGACY-A", 5)
    settled([first, second])
    day = _day(first)
    assert _day(second) == day or pytest.skip("placed across midnight")
    facts_before = store.facts_of_day(day)
    summary_before = _summary(day)
    history_before = store.demand_history("LEGACY-A", day, day)
    assert history_before == {day: 7}

    # The first order's read models as they were stored before sharding: its facts in the
    # day's one partition, the SKU's units of the day in one counter that carries the gsi1
    # entry itself, and no day markers.
    table = Table()
    old = table.get(store.facts_pk(day, first), store.facts_sk(first))
    table.batch_delete([(old["pk"], old["sk"])])
    table.put({**old, "pk": store.legacy_facts_pk(day)})
    for sku in ("LEGACY-A", "OTHER-Z"):
        units = sum(_counters(sku, day).values())
        table.batch_delete([(pk, day) for pk in store.demand_shard_pks(sku)] + [(store.demand_day_pk(sku), day)])
        legacy_counter = {"pk": store.legacy_demand_pk(sku), "sk": day, "type": "demand", "sku": sku, "units": units}
        table.put({**legacy_counter, **store.demand_month_keys(sku, day)})

    assert store.facts_of_day(day) == [
        {**f, "pk": store.legacy_facts_pk(day)} if f["order_id"] == first else f for f in facts_before
    ]
    assert store.get_facts(day, first)["pk"] == store.legacy_facts_pk(day)
    assert _summary(day) == summary_before
    assert store.demand_history("LEGACY-A", day, day) == history_before
    assert "LEGACY-A" in store.skus_with_demand(day, day)
    assert project_order(first) is False and project_order(second) is False

    # A change of the order moves its facts to its shard, counted once.
    record = load_order(first)
    body = {"lines": [{"line_id": line_id(record, "OTHER-Z"), "quantity": 1}], "reason": "customer changed mind"}
    status, _, change = post_change(first, "cancel", body, key="dev-agent-key")
    assert status in (200, 201), change
    settled([first, second])
    assert table.get(store.legacy_facts_pk(day), store.facts_sk(first)) is None
    assert store.get_facts(day, first)["pk"] == store.facts_pk(day, first)
    assert len(store.facts_of_day(day)) == 2
    assert store.demand_history("LEGACY-A", day, day) == history_before
    after_change = _summary(day)
    assert after_change["orders"] == summary_before["orders"]

    # The rebuild moves the rest: no legacy counter is left, and the figures are the same.
    rebuild()
    assert table.get(store.legacy_demand_pk("LEGACY-A"), day) is None
    assert set(_counters("LEGACY-A", day)) <= set(store.demand_shard_pks("LEGACY-A"))
    assert store.demand_history("LEGACY-A", day, day) == history_before
    assert store.skus_with_demand(day, day) == ["LEGACY-A", "OTHER-Z"]
    assert _summary(day) == after_change
    assert all(f["pk"] == store.facts_pk(day, f["order_id"]) for f in store.facts_of_day(day))


def test_a_demand_update_of_a_sku_and_day_with_a_marker_leaves_its_index_entry_alone(aws, monkeypatch):
    stock_up({"INDEX-A": 20, "OTHER-Z": 20}, location_id=LOCATION)
    first = _one_sku_order("INDEX-1", "INDEX-A", 1)
    settled([first])
    day = _day(first)
    entries = _month_entries(day)
    assert {(e["sku"], e["gsi1sk"]) for e in entries} >= {("INDEX-A", f"INDEX-A#{day}")}
    marker = Table().get(store.demand_day_pk("INDEX-A"), day)

    # Every write of the next order's projection: none may touch an item with gsi1 keys.
    written: list[dict[str, Any]] = []
    real_transact, real_batch_put = Table.transact, Table.batch_put

    def transact(self: Table, operations: Any) -> None:
        written.extend(operations)
        real_transact(self, operations)

    def batch_put(self: Table, items: Any) -> None:
        items = list(items)
        written.extend({"Put": {"Item": i}} for i in items)
        real_batch_put(self, items)

    with monkeypatch.context() as patched:
        patched.setattr(Table, "transact", transact)
        patched.setattr(Table, "batch_put", batch_put)
        second = _one_sku_order("INDEX-2", "INDEX-A", 4)
        settled([second])
    assert _day(second) == day or pytest.skip("placed across midnight")

    demand_writes = [op for op in written if "DEMAND" in repr(op)]
    assert any(store.demand_pk("INDEX-A", second) in repr(op) for op in demand_writes), "the counter was written"
    for op in demand_writes:
        body = next(iter(op.values()))
        assert "gsi1" not in repr(body), f"a demand write touched the month index: {op}"
    assert _month_entries(day) == entries
    assert Table().get(store.demand_day_pk("INDEX-A"), day) == marker
    assert store.demand_history("INDEX-A", day, day) == {day: 5}
