"""The shard of a key: stable across processes, spread evenly, the same helper for every sharded key."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from functions.customers import store
from shared.ids import new_id
from shared.order import keys
from shared.shards import shard_of


def test_a_keys_shard_is_the_same_in_another_process():
    ids = [f"ord_{n:026d}" for n in range(20)]
    here = [shard_of(i, 8) for i in ids]
    code = f"from shared.shards import shard_of; print([shard_of(i, 8) for i in {ids!r}])"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert there.strip() == repr(here)
    # Fixed values: a changed digest would move every stored order to another shard.
    assert [shard_of("ord_a", 16), shard_of("ord_b", 16), shard_of("ord_c", 8), shard_of("ord_d", 4)] == [7, 14, 4, 0]


def test_shards_are_spread_evenly():
    counts = Counter(shard_of(new_id("ord"), 8) for _ in range(8_000))
    assert set(counts) == set(range(8))
    assert max(counts.values()) < 1.15 * 1_000 and min(counts.values()) > 0.85 * 1_000


def test_the_orders_index_and_the_read_models_use_the_one_helper():
    order_id = new_id("ord")
    assert keys.order_index_shard(order_id) == shard_of(order_id, keys.ORDER_INDEX_SHARDS)
    assert store.facts_pk("2026-12-02", order_id) == f"FACTS#2026-12-02#{shard_of(order_id, store.FACTS_SHARDS):02d}"
    assert store.demand_pk("TEE-M", order_id) == f"DEMAND#TEE-M#{shard_of(order_id, store.DEMAND_SHARDS):02d}"


def test_readers_read_every_shard_and_then_the_legacy_partition():
    assert store.facts_pks("2026-12-02") == [f"FACTS#2026-12-02#{n:02d}" for n in range(store.FACTS_SHARDS)] + [
        "FACTS#2026-12-02"
    ]
    assert store.demand_pks("TEE-M") == [f"DEMAND#TEE-M#{n:02d}" for n in range(store.DEMAND_SHARDS)] + ["DEMAND#TEE-M"]


def test_a_demand_counter_update_carries_no_index_keys():
    op = store.demand_add_op("TEE-M", "2026-12-02", 3, "ord_x")["Update"]
    assert "gsi" not in op["UpdateExpression"] and op["Key"] == {
        "pk": store.demand_pk("TEE-M", "ord_x"),
        "sk": "2026-12-02",
    }
    marker = store.demand_day_item("TEE-M", "2026-12-02")
    assert (marker["gsi1pk"], marker["gsi1sk"]) == ("DEMANDSKUS#2026-12", "TEE-M#2026-12-02")
