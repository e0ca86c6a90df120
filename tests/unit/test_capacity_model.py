"""The capacity model (tests/benchmarks/capacity.py) on hand-built traces."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from typing import Any

import pytest

from tests.benchmarks.capacity import (
    Limits,
    Workload,
    evaluate,
    flash_sale,
    hot_sku_order_share,
    is_shared,
    key_class,
    modelled_duration_s,
    run_model,
    sku_orders,
    verdict,
    with_current_classes,
    zipf_top_share,
)

ORDER_ID = "ord_01jc0m2x3y4z5a6b7c8d9e0f1g"
FO_ID = "fo_01jc0m2x3y4z5a6b7c8d9e0f1g"


def _phase(
    partitions: list[dict[str, Any]] | None = None,
    *,
    transitions: float = 0.0,
    sfn: dict[str, float] | None = None,
    lambdas: dict[str, Any] | None = None,
    api: float = 0.0,
    put_events: float = 0.0,
) -> dict[str, Any]:
    return {
        "orders": 10,
        "dynamodb": {"partitions": partitions or []},
        "stepfunctions": {"transitions": transitions, "requests": sfn or {}},
        "lambda": lambdas or {},
        "apigateway": {"requests": api},
        "events": {"PutEvents": put_events},
    }


def _trace(placed: dict[str, Any], processed: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"lines_per_order": 1.0, "phases": {"placed": placed, "processed": processed or _phase()}, **extra}


def _by_name(candidates: list[Any]) -> dict[str, Any]:
    return {c.name: c for c in candidates}


# -- key classes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cls", "shared"),
    [
        (f"ORDER#{ORDER_ID}", "ORDER#{order}", False),
        (f"FO#{FO_ID}", "FO#{fo}", False),
        ("ORDERS", "ORDERS#{shard}", True),
        ("ORDERS#07", "ORDERS#{shard}", True),
        ("SKU#TEE-CLASSIC-M", "SKU#{sku}", True),
        ("SKU#TEE-CLASSIC-M#B3", "SKU#{sku}#B{bucket}", True),
        ("DEMAND#TEE-CLASSIC-M", "DEMAND#{sku}#{shard}", True),
        ("DEMAND#TEE-CLASSIC-M#03", "DEMAND#{sku}#{shard}", True),
        ("DEMANDSKU#TEE-CLASSIC-M", "DEMANDSKU#{sku}", True),
        ("FOLOC#wh-east", "FOLOC#{location}#{shard}", True),
        ("FOLOC#{location}", "FOLOC#{location}#{shard}", True),
        ("FOLOC#wh-east#03", "FOLOC#{location}#{shard}", True),
        ("CAPACITY#wh-east", "CAPACITY#{location}", True),
        ("FOSTATUS#allocated", "FOSTATUS#allocated", True),
        ("FACTS#2026-12-02", "FACTS#{date}#{shard}", True),
        ("FACTS#2026-12-02#07", "FACTS#{date}#{shard}", True),
        ("DEMANDSKUS#2026-12", "DEMANDSKUS#{month}", True),
        ("CHANNEL#web", "CHANNEL#{channel}#{shard}", True),
        ("CHANNEL#{channel}", "CHANNEL#{channel}#{shard}", True),
        ("CHANNEL#web#15", "CHANNEL#{channel}#{shard}", True),
        ("CHANNELORDER#web#SHOP-1001", "CHANNELORDER#{channel}#{external_id}", False),
        ("CUSTOMER#cus_01jc0m2x3y4z5a6b7c8d9e0f1g", "CUSTOMER#{customer}", False),
        ("TRACKING#1Z999AA10123456784", "TRACKING#{tracking}", False),
        ("EVENT#2026-12-02T04:00:00.123Z#evt_01jc0m2x3y4z5a6b7c8d9e0f1g", "EVENT#{date}#{event}", False),
        (f"OUTBOX#{ORDER_ID}", "OUTBOX#{order}", False),
        ("WEBHOOKSUBS", "WEBHOOKSUBS", True),
    ],
)
def test_key_classes_replace_entity_ids_and_tell_shared_from_per_entity(raw: str, cls: str, shared: bool) -> None:
    assert key_class(raw) == cls
    assert is_shared(cls) is shared


# -- arithmetic ----------------------------------------------------------------------------


def test_partition_load_scales_each_phase_by_its_own_rate_and_combines_reads_and_writes() -> None:
    placed = _phase([{"index": "gsi3", "key": "FOSTATUS#allocated", "wcu": 6.0, "rcu": 3.0}])
    processed = _phase([{"index": "gsi3", "key": "FOSTATUS#allocated", "wcu": 12.0}])
    workload = Workload(placed_per_minute=600, processed_per_minute=300)  # 10/s and 5/s
    c = _by_name(evaluate(_trace(placed, processed), workload))["gsi3 FOSTATUS#allocated"]
    assert c.detail["wcu_per_s"] == pytest.approx(10 * 6 + 5 * 12)
    assert c.detail["rcu_per_s"] == pytest.approx(30)
    assert c.utilisation == pytest.approx(120 / 1000 + 30 / 3000)
    assert c.max_placed_per_minute(600) == pytest.approx(600 / c.utilisation)


def test_per_order_partitions_are_no_bottleneck_but_count_towards_the_table() -> None:
    placed = _phase([{"index": "table", "key": "ORDER#{order}", "wcu": 100.0, "rcu": 50.0}])
    candidates = _by_name(evaluate(_trace(placed), Workload(placed_per_minute=60_000)))
    assert not any(name.endswith("ORDER#{order}") for name in candidates)
    assert candidates["table on-demand write units"].load == pytest.approx(1000 * 100)
    assert candidates["table on-demand read units"].load == pytest.approx(1000 * 50)


def test_orders_index_shards_divide_its_load_in_either_key_form() -> None:
    placed = _phase([{"index": "gsi3", "key": key_class("ORDERS"), "wcu": 12.0}])
    trace = _trace(placed)
    one = _by_name(evaluate(trace, Workload(placed_per_minute=6_000)))["gsi3 ORDERS#{shard}"]
    sixteen = _by_name(evaluate(trace, Workload(placed_per_minute=6_000, order_shards=16)))["gsi3 ORDERS#{shard}"]
    assert one.detail["wcu_per_s"] == pytest.approx(1_200)
    assert one.utilisation > 1
    assert sixteen.detail["wcu_per_s"] == pytest.approx(1_200 / 16)
    # A trace recorded with ORDERS#<nn> keys defaults to their shard count.
    sharded = _trace(
        _phase([{"index": "gsi3", "key": key_class("ORDERS#03"), "wcu": 12.0}]), observed={"order_shards": 16}
    )
    assert _by_name(evaluate(sharded, Workload(placed_per_minute=6_000)))["gsi3 ORDERS#{shard}"].detail[
        "wcu_per_s"
    ] == pytest.approx(1_200 / 16)


def test_state_machine_quotas_use_transitions_and_task_calls_per_order() -> None:
    placed = _phase(transitions=10, sfn={"StartExecution": 1})
    processed = _phase(transitions=6, sfn={"SendTaskSuccess": 2})
    candidates = _by_name(
        evaluate(_trace(placed, processed), Workload(placed_per_minute=6_000, processed_per_minute=3_000))
    )
    assert candidates["Step Functions StateTransition"].load == pytest.approx(100 * 10 + 50 * 6)
    assert candidates["Step Functions StateTransition"].limit == Limits().sfn_transitions
    assert candidates["Step Functions StartExecution"].utilisation == pytest.approx(100 / 300)
    assert candidates["Step Functions SendTaskSuccess"].load == pytest.approx(100)


def test_lambda_concurrency_is_invocations_per_second_times_modelled_duration() -> None:
    function = {"invocations": 2.0, "cpu_ms": 10.0, "memory_mb": 1769, "requests": {"dynamodb.GetItem": 1.0}}
    # Full vCPU: CPU as measured; one GetItem (4 ms) and the runtime's 1 ms.
    assert modelled_duration_s(function) == pytest.approx((10 + 4 + 1) / 1000)
    # A quarter of a vCPU at 442 MB stretches the CPU time four-fold.
    assert modelled_duration_s({**function, "memory_mb": 1769 / 4}) == pytest.approx((40 + 4 + 1) / 1000)
    trace = _trace(_phase(lambdas={"CaptureApi": function}))
    c = _by_name(evaluate(trace, Workload(placed_per_minute=60_000)))["Lambda concurrent executions"]
    assert c.load == pytest.approx(1000 * 2 * 0.015)


# -- the bottleneck ------------------------------------------------------------------------


def test_the_first_bottleneck_is_the_most_utilised_candidate_and_bounds_the_sustainable_rate() -> None:
    placed = _phase(
        [
            {"index": "gsi3", "key": "ORDERS#{shard}", "wcu": 6.0},
            {"index": "table", "key": "FACTS#{date}", "wcu": 3.0, "rcu": 3.0},
        ],
        transitions=8,
        api=1,
        put_events=4,
    )
    workload = Workload(placed_per_minute=6_000, processed_per_minute=0)
    candidates = evaluate(_trace(placed), workload)
    assert candidates[0].name == "gsi3 ORDERS#{shard}"  # 600 WCU/s: 60 %; FACTS 300 WCU/s + 300 RCU/s: 40 %
    assert _by_name(candidates)["EventBridge PutEvents"].load == pytest.approx(400)
    v = verdict(candidates, workload)
    assert v["sustainable"] is True
    assert v["first_bottleneck"] == "gsi3 ORDERS#{shard}"
    assert v["max_placed_per_minute"] == pytest.approx(6_000 / 0.6)
    over = verdict(evaluate(_trace(placed), Workload(placed_per_minute=12_000)), Workload(placed_per_minute=12_000))
    assert over["sustainable"] is False


def test_sharding_moves_the_bottleneck_elsewhere() -> None:
    placed = _phase(
        [
            {"index": "gsi3", "key": "ORDERS#{shard}", "wcu": 14.0},
            {"index": "gsi1", "key": "CHANNEL#{channel}#{shard}", "wcu": 7.0},
        ]
    )
    assert evaluate(_trace(placed), Workload())[0].name == "gsi3 ORDERS#{shard}"
    assert evaluate(_trace(placed), Workload(order_shards=16))[0].name == "gsi1 CHANNEL#{channel}#{shard}"


# -- SKU popularity and the flash sale ------------------------------------------------------


def test_zipf_popularity_gives_the_hottest_skus_share() -> None:
    assert zipf_top_share(1, 1.0) == 1.0
    assert zipf_top_share(3, 1.0) == pytest.approx(1 / (1 + 1 / 2 + 1 / 3))
    harmonic_10 = sum(1 / k for k in range(1, 11))
    assert hot_sku_order_share(Workload(skus=10, zipf_s=1.0), lines_per_order=2) == pytest.approx(2 / harmonic_10)
    # Never more than every order.
    assert hot_sku_order_share(Workload(skus=3, zipf_s=1.0), lines_per_order=2) == 1.0
    assert hot_sku_order_share(Workload(hot_sku_order_share=0.5), lines_per_order=3) == 0.5


def test_a_replayed_skewed_stream_puts_the_zipf_share_on_the_top_sku() -> None:
    counts = sku_orders(random.Random(7), orders=4_000, skus=50, s=1.2, lines=1)
    top = max(counts, key=lambda k: counts[k])
    assert top == 0
    assert counts[0] / 4_000 == pytest.approx(zipf_top_share(50, 1.2), abs=0.03)


STOCK_TRACE = _trace(
    # Two lines an order: 2 WCU (a transactional write of a small item) per line to reserve, 2 to ship.
    _phase([{"index": "table", "key": "SKU#{sku}", "wcu": 4.0, "writes": 2.0}]),
    _phase([{"index": "table", "key": "SKU#{sku}", "wcu": 4.0, "writes": 2.0}]),
    lines_per_order=2.0,
)


def test_flash_sale_divides_the_hot_skus_reservations_over_its_buckets() -> None:
    workload = Workload(placed_per_minute=6_000, processed_per_minute=6_000)
    one = flash_sale(STOCK_TRACE, workload)
    assert one["wcu_per_reservation"] == pytest.approx(4.0)  # reserve 2 + ship 2
    assert one["buckets"] == 1
    assert one["reservations_per_s_capacity"] == pytest.approx(250)
    assert one["reservations_per_s_at_target"] == pytest.approx(50)
    assert one["carries_needed"] is False
    assert one["buckets_for_needed"] == 4
    four = flash_sale(STOCK_TRACE, Workload(placed_per_minute=6_000, processed_per_minute=6_000, sku_buckets=4))
    assert four["reservations_per_s_capacity"] == pytest.approx(1_000)
    assert four["carries_needed"] is True


def test_the_hot_stock_item_partition_is_split_by_buckets_in_the_trace_or_the_override() -> None:
    flash = Workload(placed_per_minute=6_000, processed_per_minute=0, hot_sku_order_share=0.5)
    base = _by_name(evaluate(STOCK_TRACE, flash))["table SKU#{sku}"]
    # 100 orders/s, half with a line of the SKU, 2 WCU a line.
    assert base.detail["wcu_per_s"] == pytest.approx(100 * 0.5 * 2)
    split = _by_name(evaluate(STOCK_TRACE, Workload(**{**flash.__dict__, "sku_buckets": 4})))["table SKU#{sku}"]
    assert split.detail["wcu_per_s"] == pytest.approx(100 * 0.5 * 2 / 4)
    bucketed = _trace(
        _phase([{"index": "table", "key": "SKU#{sku}#B{bucket}", "wcu": 4.0}]),
        lines_per_order=2.0,
        observed={"sku_buckets": 8},
    )
    assert _by_name(evaluate(bucketed, flash))["table SKU#{sku}#B{bucket}"].detail["wcu_per_s"] == pytest.approx(
        100 / 8
    )
    assert flash_sale(bucketed, flash)["buckets"] == 8


def test_other_items_of_the_hot_sku_are_not_divided_by_buckets() -> None:
    trace = _trace(
        _phase(
            [{"index": "table", "key": "SKU#{sku}", "wcu": 2.0}, {"index": "table", "key": "DEMAND#{sku}", "wcu": 2.0}]
        ),
    )
    workload = Workload(placed_per_minute=6_000, processed_per_minute=0, hot_sku_order_share=0.5, sku_buckets=4)
    candidates = _by_name(evaluate(trace, workload))
    assert candidates["table SKU#{sku}"].detail["wcu_per_s"] == pytest.approx(100 * 0.5 * 2 / 4)
    assert candidates["table DEMAND#{sku}"].detail["wcu_per_s"] == pytest.approx(100 * 0.5 * 2)
    result = flash_sale(trace, workload)
    assert result["other_hot_sku_items"]["DEMAND#{sku}"]["lines_per_s_capacity"] == pytest.approx(500)
    assert result["other_hot_sku_items"]["DEMAND#{sku}"]["carries_needed"] is False


def test_run_model_reports_the_target_verdict_candidates_and_flash_sale() -> None:
    result = run_model(STOCK_TRACE, Workload())
    assert result["verdict"]["target"] == {"placed_per_minute": 5_000, "processed_per_minute": 2_500}
    names = [c["name"] for c in result["candidates"]]
    assert "Step Functions StateTransition" in names and "API Gateway requests" in names
    for c in result["candidates"]:
        assert c["headroom"] == pytest.approx(1 - c["utilisation"], abs=1e-3)
        if c["max_placed_per_minute"] is not None:
            assert c["max_placed_per_minute"] == pytest.approx(5_000 / c["utilisation"], rel=1e-3)
    assert result["flash_sale"]["needed_reservations_per_s"] == 1_000
    assert math.isfinite(result["flash_sale"]["reservations_per_s_capacity"])


def test_channel_and_location_shares_scale_their_partitions() -> None:
    placed = _phase(
        [
            {"index": "gsi1", "key": "CHANNEL#{channel}#{shard}", "wcu": 6.0},
            {"index": "gsi1", "key": "FOLOC#{location}#{shard}", "wcu": 6.0},
        ]
    )
    workload = Workload(placed_per_minute=6_000, channel_share=0.25, location_share=0.5)
    candidates = _by_name(evaluate(_trace(placed), workload))
    assert candidates["gsi1 CHANNEL#{channel}#{shard}"].detail["wcu_per_s"] == pytest.approx(600 * 0.25)
    assert candidates["gsi1 FOLOC#{location}#{shard}"].detail["wcu_per_s"] == pytest.approx(600 * 0.5)


def test_scenarios_split_the_hot_keys_one_after_another() -> None:
    placed = _phase(
        [
            {"index": "gsi3", "key": "ORDERS#{shard}", "wcu": 14.0},
            {"index": "gsi1", "key": "CHANNEL#{channel}#{shard}", "wcu": 13.0},
            {"index": "gsi1", "key": "FOLOC#{location}#{shard}", "wcu": 12.0},
        ],
        transitions=11,
    )
    scenarios = {s["scenario"]: s for s in run_model(_trace(placed), Workload())["scenarios"]}
    assert scenarios["as recorded"]["first_bottleneck"] == "gsi3 ORDERS#{shard}"
    assert scenarios["orders index in 16 shards"]["first_bottleneck"] == "gsi1 CHANNEL#{channel}#{shard}"
    assert scenarios["16 shards, orders spread over 4 channels"]["first_bottleneck"] == "gsi1 FOLOC#{location}#{shard}"
    assert scenarios["16 shards, 4 channels, 2 warehouses"]["first_bottleneck"] == "Step Functions StateTransition"
    rates = [s["max_placed_per_minute"] for s in scenarios.values()]
    assert rates == sorted(rates)


def test_sharded_read_models_divide_their_load_by_their_own_shard_counts() -> None:
    trace = _trace(
        _phase(
            [
                {"index": "table", "key": "FACTS#{date}#{shard}", "wcu": 3.0},
                {"index": "table", "key": "SKU#{sku}", "wcu": 2.0},
                {"index": "table", "key": "DEMAND#{sku}#{shard}", "wcu": 2.0},
                {"index": "gsi3", "key": "ORDERS#{shard}", "wcu": 1.0},
            ]
        ),
    )
    workload = Workload(placed_per_minute=6_000, processed_per_minute=0, hot_sku_order_share=0.5)
    as_recorded = _by_name(evaluate(trace, workload))
    assert as_recorded["table FACTS#{date}#{shard}"].detail["wcu_per_s"] == pytest.approx(100 * 3)
    sharded = replace(workload, facts_shards=8, demand_shards=4, order_shards=16)
    candidates = _by_name(evaluate(trace, sharded))
    assert candidates["table FACTS#{date}#{shard}"].detail["wcu_per_s"] == pytest.approx(100 * 3 / 8)
    assert candidates["table DEMAND#{sku}#{shard}"].detail["wcu_per_s"] == pytest.approx(100 * 0.5 * 2 / 4)
    assert candidates["gsi3 ORDERS#{shard}"].detail["wcu_per_s"] == pytest.approx(100 / 16)
    # The flash sale's demand counter takes a line in one of its shards.
    assert flash_sale(trace, workload)["other_hot_sku_items"]["DEMAND#{sku}#{shard}"][
        "lines_per_s_capacity"
    ] == pytest.approx(500)
    other = flash_sale(trace, sharded)["other_hot_sku_items"]["DEMAND#{sku}#{shard}"]
    assert other["lines_per_s_capacity"] == pytest.approx(2_000) and other["carries_needed"] is True
    # A trace recorded with the shard keys says so itself.
    observed = {**trace, "observed": {"facts_shards": 8, "demand_shards": 4}}
    assert _by_name(evaluate(observed, workload))["table FACTS#{date}#{shard}"].detail["wcu_per_s"] == pytest.approx(
        100 * 3 / 8
    )


def test_an_older_traces_unsharded_read_model_classes_take_the_shard_counts() -> None:
    trace = with_current_classes(_trace(_phase([{"index": "table", "key": "FACTS#{date}", "wcu": 3.0}])))
    assert trace["phases"]["placed"]["dynamodb"]["partitions"][0]["key"] == "FACTS#{date}#{shard}"
    workload = Workload(placed_per_minute=6_000, processed_per_minute=0, facts_shards=8)
    assert _by_name(evaluate(trace, workload))["table FACTS#{date}#{shard}"].detail["wcu_per_s"] == pytest.approx(
        100 * 3 / 8
    )


def test_channel_and_location_shards_divide_their_partitions_load() -> None:
    placed = _phase(
        [
            {"index": "gsi3", "key": key_class("ORDERS#03"), "wcu": 14.0},
            {"index": "gsi1", "key": key_class("CHANNEL#web#07"), "wcu": 13.0},
            {"index": "gsi1", "key": key_class("FOLOC#wh-east#02"), "wcu": 12.0},
        ]
    )
    # A trace recorded before sharding: one partition each, unless the workload says otherwise.
    one = _by_name(evaluate(_trace(placed), Workload(placed_per_minute=6_000, order_shards=16)))
    assert one["gsi1 CHANNEL#{channel}#{shard}"].detail["wcu_per_s"] == pytest.approx(1_300)
    assert one["gsi1 FOLOC#{location}#{shard}"].detail["wcu_per_s"] == pytest.approx(1_200)
    workload = Workload(placed_per_minute=6_000, order_shards=16, channel_shards=16, location_shards=8)
    split = _by_name(evaluate(_trace(placed), workload))
    assert split["gsi1 CHANNEL#{channel}#{shard}"].detail["wcu_per_s"] == pytest.approx(1_300 / 16)
    assert split["gsi1 FOLOC#{location}#{shard}"].detail["wcu_per_s"] == pytest.approx(1_200 / 8)
    assert split["gsi3 ORDERS#{shard}"].detail["wcu_per_s"] == pytest.approx(1_400 / 16)
    # A trace that saw the shards carries their counts.
    seen = _trace(placed, observed={"order_shards": 16, "channel_shards": 16, "location_shards": 8})
    assert _by_name(evaluate(seen, Workload(placed_per_minute=6_000)))["gsi1 FOLOC#{location}#{shard}"].detail[
        "wcu_per_s"
    ] == pytest.approx(1_200 / 8)
