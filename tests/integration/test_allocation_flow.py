"""The allocate step on moto: rules, backorders that park once, compensation."""

from __future__ import annotations

import time

import boto3

from functions.allocate.logic.allocation import allocate_order, release_all
from functions.allocate.logic.policy import ChannelRule, RoutingPolicy, save_policy
from functions.inventory.store import capacity_used, get_stock
from shared.clock import now_iso
from shared.order import keys
from shared.order.record import load_order
from shared.table import Table
from tests.integration.conftest import stock_up
from tests.integration.test_capture_api import order_body, post


def _states_entered(execution_arn: str) -> list[str]:
    history = boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def _timeline(order_id: str) -> list[str]:
    events = Table().query_all("pk = :pk AND begins_with(sk, :e)", {":pk": keys.order_pk(order_id), ":e": "EVENT#"})
    return [e["kind"] for e in events]


def test_stock_the_rules_keep_out_of_reach_parks_the_order_once(aws):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-berlin")
    save_policy(RoutingPolicy(channels={"web": ChannelRule(groups=["stores-that-ship"])}))
    status, _, order = post(order_body("RULES-1"))
    assert status == 201
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "WaitForStock" not in _states_entered(order["workflow"]["execution_arn"]):
        time.sleep(0.1)
    time.sleep(1.0)  # a wake-up loop would show more entries by now
    entered = _states_entered(order["workflow"]["execution_arn"])
    # Parked: AdvanceOrder branches, its answer is read back from the cause, the Choice picks the wait.
    assert entered == ["AdvanceOrder", "ReadParkedOutcome", "ReadParkedStep", "NextOrderStep", "WaitForStock"], entered
    record = load_order(order["order_id"])
    assert record is not None and record.header["fulfillment_status"] == "backordered"
    assert get_stock("TSHIRT-M", "wh-berlin").reserved == 0


def test_a_wake_up_that_finds_too_little_writes_nothing(aws):
    """The order is backordered and parked; allocating again with no more stock reserves
    nothing and leaves the header and the timeline as they were (no rewrite, no repeated event)."""
    status, _, order = post(order_body("SHORT-1"))
    assert status == 201
    order_id = order["order_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "WaitForStock" not in _states_entered(order["workflow"]["execution_arn"]):
        time.sleep(0.1)
    before = load_order(order_id)
    assert before is not None and before.header["fulfillment_status"] == "backordered"
    outcome = allocate_order(order_id)
    assert (outcome.allocated_units, outcome.backordered_units) == (0, 3)
    after = load_order(order_id)
    assert after is not None
    assert after.header == before.header
    assert _timeline(order_id).count("order.backordered") == 1


def test_compensation_releases_every_reservation_once(aws, monkeypatch):
    # Allocated, not yet released to a warehouse (units on a fulfillment order stay reserved:
    # tests/integration/test_release_edge_cases.py).
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    status, _, order = post(order_body("COMP-1"))
    assert status == 201
    assert allocate_order(order["order_id"]).allocated_units == 3
    assert (get_stock("TSHIRT-M", "wh-berlin").reserved, get_stock("JEANS-32", "wh-berlin").reserved) == (2, 1)
    assert release_all(order["order_id"]) == {"released_units": 3}
    assert release_all(order["order_id"]) == {"released_units": 0}  # a retried compensation
    tshirt = get_stock("TSHIRT-M", "wh-berlin")
    assert (tshirt.on_hand, tshirt.reserved, tshirt.available) == (10, 0, 10)
    record = load_order(order["order_id"])
    assert record is not None
    assert all(line["quantities"]["allocated"] == 0 for line in record.lines)


def test_an_order_past_one_transaction_allocates_in_parts(aws):
    skus = {f"BIG-{i:03d}": 5 for i in range(120)}
    stock_up(skus)
    body = order_body("BIG-ALLOC")
    body["lines"] = [{"sku": sku, "quantity": 2, "unit_price": 1000} for sku in skus]
    body["promotions"] = []
    status, _, order = post(body)
    assert status == 201
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = load_order(order["order_id"])
        if record and record.header["fulfillment_status"] == "allocated":
            break
        time.sleep(0.2)
    assert record is not None and record.header["fulfillment_status"] == "allocated"
    assert all(line["quantities"]["allocated"] == 2 for line in record.lines)
    assert len(record.others["ALLOC"]) == 120
    assert {get_stock(sku, "wh-berlin").reserved for sku in skus} == {2}
    # One shipment from the one location, however many transactions the plan took.
    assert capacity_used(["wh-berlin"], now_iso()[:10]) == {"wh-berlin": 1}


def test_a_refused_later_part_releases_the_parts_already_written(aws):
    from functions.allocate.logic.reservation import StockMoved, commit, split_parts
    from functions.allocate.store import Reservation
    from shared.table import Table

    skus = {f"PART-{i:03d}": 5 for i in range(60)}
    stock_up(skus)
    reservations = [
        Reservation(line_position=i + 1, line_id=f"ln_{i}", sku=sku, location_id="wh-berlin", quantity=2)
        for i, sku in enumerate(skus)
    ]
    reservations[-1] = Reservation(60, "ln_59", "PART-059", "wh-berlin", quantity=6)  # more than on hand
    assert len(split_parts(reservations)) > 1
    Table().batch_put(
        [{"pk": "ORDER#ord_parts", "sk": "HEADER", "type": "order", "order_id": "ord_parts"}]
        + [
            {"pk": "ORDER#ord_parts", "sk": f"LINE#{r.line_position:05d}", "type": "line", "quantities": {"ordered": 6}}
            for r in reservations
        ]
    )
    try:
        commit(
            "ord_parts",
            reservations,
            current_round=0,
            at="2026-01-01T00:00:00.000Z",
            day="2026-01-01",
            capacities={},
            header=_no_change(),
            closing_ops=[],
        )
    except StockMoved:
        pass
    else:
        raise AssertionError("the last part should have been refused")
    assert {get_stock(sku, "wh-berlin").reserved for sku in skus} == {0}
    items, _ = Table().query("pk = :pk", {":pk": "ORDER#ord_parts"})
    assert not [i for i in items if i["sk"].startswith("ALLOC#")]
    assert {i["quantities"].get("allocated", 0) for i in items if i["sk"].startswith("LINE#")} == {0}


def _no_change():
    from shared.order.state import HeaderUpdate

    return HeaderUpdate("ord_parts", "2026-01-01T00:00:00.000Z")
