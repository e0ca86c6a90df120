"""The allocate step on moto: rules, backorders that park once, compensation."""

from __future__ import annotations

import time

import boto3

from functions.allocate.logic.allocation import release_all
from functions.allocate.logic.policy import ChannelRule, RoutingPolicy, save_policy
from shared.inventory import get_stock
from shared.orders import load_order
from tests.integration.conftest import stock_up
from tests.integration.test_capture_api import order_body, post


def _states_entered(execution_arn: str) -> list[str]:
    history = boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


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
    assert entered == ["AllocateOrder", "CheckBackorders", "WaitForStock"], entered
    record = load_order(order["order_id"])
    assert record is not None and record.header["fulfillment_status"] == "backordered"
    assert get_stock("TSHIRT-M", "wh-berlin").reserved == 0


def test_compensation_releases_every_reservation_once(aws):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    status, _, order = post(order_body("COMP-1"))
    assert status == 201
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and get_stock("TSHIRT-M", "wh-berlin").reserved == 0:
        time.sleep(0.1)
    assert (get_stock("TSHIRT-M", "wh-berlin").reserved, get_stock("JEANS-32", "wh-berlin").reserved) == (2, 1)
    assert release_all(order["order_id"]) == {"released_units": 3}
    assert release_all(order["order_id"]) == {"released_units": 0}  # a retried compensation
    tshirt = get_stock("TSHIRT-M", "wh-berlin")
    assert (tshirt.on_hand, tshirt.reserved, tshirt.available) == (10, 0, 10)
    record = load_order(order["order_id"])
    assert record is not None
    assert all(line["quantities"]["allocated"] == 0 for line in record.lines)
