"""Store pickup on moto, with the real OrderLifecycle execution: ready, code, handover, no-show."""

from __future__ import annotations

import re
import time
from typing import Any

import boto3
import pytest

from functions.fulfill.handlers.api import handler as fulfillment_handler
from functions.fulfill.store import fulfillment_orders_of, parked_token
from functions.inventory.store import get_stock
from functions.notify.store import list_outbox
from infra.local import moto_patches
from shared.order.record import load_order
from shared.order.timeline import timeline
from shared.table import Table
from tests.integration.conftest import (
    api_event,
    call,
    stock_up,
    wait_for_execution,
    wait_for_fulfillment_wait,
    wait_for_state,
)
from tests.integration.test_capture_api import order_body, post

STORE = "store-berlin-mitte"
STORE_KEY = "dev-stores-key"  # a WMS key of the shops
CODE = re.compile(r"Your pickup code: ([A-Z0-9]{4})-([A-Z0-9]{4})")


def _pickup_body(external_id: str) -> dict[str, Any]:
    body = order_body(external_id, promotions=[])
    body["shipping"] = body["shipping"] | {"method": "pickup", "amount": 0, "pickup_location_id": STORE}
    return body


def _fo_api(fo_id: str, action: str, body: Any = None, *, key: str = STORE_KEY, **kw: Any):
    return call(
        fulfillment_handler,
        api_event(
            "POST",
            f"/v1/fulfillment-orders/{fo_id}/{action}",
            resource=f"/v1/fulfillment-orders/{{fo_id}}/{action}",
            key=key,
            body=body,
            path_parameters={"fo_id": fo_id},
            **kw,
        ),
    )


def _policy(**values: Any) -> None:
    status, _, policy = call(
        fulfillment_handler,
        api_event("PUT", "/v1/config/pickup", resource="/v1/config/pickup", key="dev-ops-key", body=values),
    )
    assert status == 200, policy


def _waiting_at_the_store(external_id: str) -> tuple[str, str, str]:
    """A pickup order captured, its execution parked on the store's fulfillment order."""
    stock_up({"TSHIRT-M": 5, "JEANS-32": 5}, location_id=STORE)
    status, _, order = post(_pickup_body(external_id))
    assert status == 201, order
    arn = order["workflow"]["execution_arn"]
    [fo] = wait_for_fulfillment_wait(order["order_id"])
    assert parked_token(fo)
    assert fo["location_id"] == STORE and fo["delivery_group"] == "pickup"
    return order["order_id"], fo["fo_id"], arn


def _code_mails(order_id: str, count: int, timeout: float = 30.0) -> list[str]:
    """The pickup codes e-mailed to the customer (stream -> EventBridge -> queue -> Notifications)."""
    deadline = time.monotonic() + timeout
    while True:
        moto_patches.wait_for_streams()
        moto_patches.wait_for_queues()
        mails = [m for m in list_outbox(order_id) if m["kind"] == "fulfillment.ready_for_pickup"]
        if len(mails) >= count or time.monotonic() > deadline:
            return ["".join(CODE.search(m["text"]).groups()) for m in mails]  # type: ignore[union-attr]
        time.sleep(0.05)


def _everything_stored() -> str:
    return repr(boto3.client("dynamodb").scan(TableName=Table().name)["Items"])


def test_a_pickup_order_is_collected_with_its_code_captured_invoiced_and_completed(aws):
    order_id, fo_id, arn = _waiting_at_the_store("PICK-1")
    status, _, ready = _fo_api(fo_id, "ready-for-pickup", headers={"Idempotency-Key": "ready-1"})
    assert status == 200, ready
    assert ready["status"] == "ready_for_pickup" and ready["pickup"]["codes_issued"] == 1
    assert "ready_for_pickup_at" in ready and ready["pickup"]["no_show_at"] > ready["ready_for_pickup_at"]
    assert "AwaitPickup" in wait_for_state(arn, "AwaitPickup", timeout=30)
    # Told twice, nothing new: no second code, no second e-mail.
    status, _, again = _fo_api(fo_id, "ready-for-pickup")
    assert status == 200 and again["pickup"]["codes_issued"] == 1

    [code] = _code_mails(order_id, 1)
    assert code not in _everything_stored().replace(f"{code[:4]}-{code[4:]}", "")  # only the e-mail shows it

    status, _, problem = _fo_api(fo_id, "ship", {"carrier": "dhl", "tracking_number": "X1"})
    assert status == 409 and problem["current_status"] == "ready_for_pickup"
    status, _, problem = _fo_api(fo_id, "picked-up", {"pickup_code": "AAAA-AAAA"})
    assert status == 422 and problem["attempts_left"] == 4, problem
    assert problem["errors"] == [{"field": "pickup_code", "message": "does not match"}]

    status, _, handover = _fo_api(fo_id, "picked-up", {"pickup_code": f"{code[:4].lower()}-{code[4:]}"})
    assert status == 201, handover
    assert handover["carrier"] is None and handover["tracking_number"] is None
    assert handover["method"] == "pickup" and handover["tracking_status"] == "delivered"
    # The same handover told again answers the first one.
    status, _, twice = _fo_api(fo_id, "picked-up", {"pickup_code": code})
    assert status == 201 and twice["shipment_id"] == handover["shipment_id"]

    assert wait_for_execution(arn, timeout=40)["status"] == "SUCCEEDED"
    record = load_order(order_id)
    assert record is not None
    header = record.header
    assert header["status"] == "completed" and header["fulfillment_status"] == "delivered"
    [invoice] = record.others["INV"]
    assert invoice["shipment_id"] == handover["shipment_id"] and invoice["amount"] == header["totals"]["total"]
    [payment] = record.others["PAY"]
    assert payment["captured"] == header["totals"]["total"]
    [fo] = fulfillment_orders_of(order_id)
    assert fo["status"] == "picked_up" and "picked_up_at" in fo
    kinds = [e["kind"] for e in timeline(order_id, limit=200, cursor=None)[0]]
    assert "fulfillment.ready_for_pickup" in kinds and "shipment.picked_up" in kinds
    assert "shipment.shipped" not in kinds
    stock = get_stock("TSHIRT-M", STORE)
    assert stock is not None and (stock.on_hand, stock.reserved) == (3, 0)


def test_too_many_wrong_codes_lock_the_order_until_a_new_code_is_issued(aws):
    _policy(no_show_after_days=7, max_code_attempts=2)
    order_id, fo_id, arn = _waiting_at_the_store("PICK-2")
    assert _fo_api(fo_id, "ready-for-pickup")[0] == 200
    [first] = _code_mails(order_id, 1)
    assert _fo_api(fo_id, "picked-up", {"pickup_code": "WRONG-ONE"})[2]["attempts_left"] == 1
    status, _, problem = _fo_api(fo_id, "picked-up", {"pickup_code": "WRONG-TWO"})
    assert status == 409 and problem["attempts_left"] == 0, problem
    # Locked: even the right code is refused now.
    assert _fo_api(fo_id, "picked-up", {"pickup_code": first})[0] == 409

    status, _, reissued = _fo_api(fo_id, "ready-for-pickup", {"reissue_code": True})
    assert status == 200 and reissued["pickup"] == {
        "codes_issued": 2,
        "wrong_attempts": 0,
        "no_show_at": reissued["pickup"]["no_show_at"],
    }
    _, second = _code_mails(order_id, 2)
    assert second != first
    assert _fo_api(fo_id, "picked-up", {"pickup_code": first})[0] == 422  # the old code is void
    assert _fo_api(fo_id, "picked-up", {"pickup_code": second})[0] == 201
    assert wait_for_execution(arn, timeout=40)["status"] == "SUCCEEDED"


def test_a_no_show_is_cancelled_its_authorization_voided_and_its_units_restocked(aws):
    _policy(no_show_after_days=2 / 86_400)  # two seconds
    order_id, fo_id, arn = _waiting_at_the_store("PICK-3")
    before = get_stock("TSHIRT-M", STORE)
    assert before is not None and before.reserved == 2
    assert _fo_api(fo_id, "ready-for-pickup")[0] == 200

    execution = wait_for_execution(arn, timeout=30)
    assert execution["status"] == "SUCCEEDED", execution
    entered = wait_for_state(arn, "CancelUncollectedPickup")
    assert entered[entered.index("AwaitPickup") :][:3] == [
        "AwaitPickup",
        "CancelUncollectedPickup",
        "SettleFulfillmentOrder",
    ]
    record = load_order(order_id)
    assert record is not None
    assert record.header["status"] == "cancelled"
    [change] = record.others["CHG"]
    assert change["reason"] == "pickup_not_collected"
    [payment] = record.others["PAY"]
    assert payment["captured"] == 0 and payment["status"] == "voided", payment
    assert "INV" not in record.others
    for sku in ("TSHIRT-M", "JEANS-32"):
        stock = get_stock(sku, STORE)
        assert stock is not None and (stock.on_hand, stock.reserved, stock.available) == (5, 0, 5)
    [fo] = fulfillment_orders_of(order_id)
    assert fo["status"] == "cancelled"
    # Too late for the code now.
    [code] = _code_mails(order_id, 1)
    status, _, problem = _fo_api(fo_id, "picked-up", {"pickup_code": code})
    assert status == 409 and problem["current_status"] == "cancelled"


def test_pickup_steps_refuse_an_order_that_ships(aws):
    stock_up({"TSHIRT-M": 5, "JEANS-32": 5}, location_id="wh-east")
    status, _, order = post(order_body("PICK-4", promotions=[]))
    assert status == 201
    [fo] = wait_for_fulfillment_wait(order["order_id"])
    status, _, problem = _fo_api(fo["fo_id"], "ready-for-pickup", key="dev-wms-key")
    assert status == 409 and "not a pickup order" in problem["detail"]
    assert _fo_api(fo["fo_id"], "picked-up", {"pickup_code": "ABCD-EFGH"}, key="dev-wms-key")[0] == 409
    assert _fo_api(fo["fo_id"], "picked-up", {"pickup_code": ""}, key="dev-wms-key")[0] == 422


@pytest.mark.parametrize("body", [{"no_show_after_days": 0}, {"max_code_attempts": "5"}, {"grace": 1}])
def test_the_pickup_policy_is_validated(aws, body):
    status, _, problem = call(
        fulfillment_handler,
        api_event("PUT", "/v1/config/pickup", resource="/v1/config/pickup", key="dev-ops-key", body=body),
    )
    assert status == 422, problem
