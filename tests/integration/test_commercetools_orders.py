"""commercetools Messages on moto: commercetools' example Order captured once through an
``OrderCreated`` Message, cancelled by ``OrderStateChanged``; the Subscription's delivery
envelope is written by hand (commercetools publishes no example of one)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from functions.channels.handlers.commercetools_messages import handler
from functions.channels.logic.commercetools_orders import receive_message
from infra.local.provision import LocalResources
from infra.local.runtime import LambdaContext
from shared.errors import RetryableError
from shared.order.record import find_order_id, load_order
from tests.unit.test_commercetools_mapping import example_order

PROJECT = "dev-project"


def handmade_delivery(message_type: str, resource_id: str, sequence: int, **fields: Any) -> dict[str, Any]:
    """A MessageDeliveryPayload as the API reference describes it (hand-made, not commercetools')."""
    return {
        "notificationType": "Message",
        "projectKey": PROJECT,
        "id": str(uuid.uuid4()),
        "version": 1,
        "sequenceNumber": sequence,
        "resource": {"typeId": "order", "id": resource_id},
        "resourceVersion": sequence,
        "type": message_type,
        "createdAt": "2018-05-15T12:40:17.301Z",
        "lastModifiedAt": "2018-05-15T12:40:17.301Z",
        **fields,
    }


def sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    records = [
        {
            "messageId": str(i),
            "body": json.dumps(b),
            "attributes": {},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }
        for i, b in enumerate(bodies)
    ]
    return {"Records": records}


def test_order_created_captures_the_example_order_once(aws: LocalResources) -> None:
    order = example_order()
    created = handmade_delivery("OrderCreated", order["id"], 1, order=order)
    assert handler(sqs_event(created), LambdaContext(function_name="test")) == {"batchItemFailures": []}
    order_id = find_order_id("commercetools", order["id"])
    record = load_order(order_id) if order_id else None
    assert record is not None
    assert record.header["totals"]["total"] == 3970 and record.header["currency"] == "EUR"
    # The same Message again (at least once delivery), or another Message for the same order.
    assert receive_message(created)["result"] == "duplicate"
    again = handmade_delivery("OrderCreated", order["id"], 1, order=order)
    assert receive_message(again) == {"result": "exists", "order_id": order_id}


def test_a_cancellation_before_its_order_comes_back_then_cancels(aws: LocalResources) -> None:
    order = example_order()
    cancelled = handmade_delivery("OrderStateChanged", order["id"], 2, orderState="Cancelled", oldOrderState="Open")
    with pytest.raises(RetryableError):
        receive_message(cancelled)
    assert receive_message(handmade_delivery("OrderCreated", order["id"], 1, order=order))["result"] == "captured"
    out = receive_message(cancelled)
    assert out["result"] == "cancelled"
    record = load_order(out["order_id"])
    assert record and record.header["status"] == "cancelled"


def test_an_order_that_cannot_be_captured_is_recorded_refused(aws: LocalResources) -> None:
    order = example_order()
    del order["shippingAddress"]
    out = receive_message(handmade_delivery("OrderCreated", order["id"], 1, order=order))
    assert out["result"] == "refused" and "cannot be captured" in out["detail"]
    unknown = handmade_delivery("OrderCreated", order["id"], 1, order=order) | {"projectKey": "someone-else"}
    assert receive_message(unknown)["result"] == "unknown_project"
