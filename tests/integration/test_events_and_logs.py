from __future__ import annotations

import json
import logging
import time

import boto3

from infra.local import moto_patches
from shared.observability import logger
from tests.integration.conftest import stock_up
from tests.integration.test_capture_api import order_body, post


def _subscribe(aws) -> str:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="domain-events-test")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    events.put_rule(Name="all-oms", EventBusName=aws.event_bus_name, EventPattern=json.dumps({"source": ["oms"]}))
    events.put_targets(Rule="all-oms", EventBusName=aws.event_bus_name, Targets=[{"Id": "q", "Arn": arn}])
    return url


def test_every_timeline_change_becomes_one_domain_event(aws):
    url = _subscribe(aws)
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    status, _, order = post(order_body("EV-1"))
    assert status == 201
    sqs = boto3.client("sqs")
    received: list[dict] = []
    deadline = time.monotonic() + 10
    expected = ["fulfillment.released", "order.allocated", "order.captured", "order.confirmed", "payment.authorized"]
    while len(received) < len(expected) and time.monotonic() < deadline:
        moto_patches.wait_for_streams()
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            received.append(json.loads(m["Body"]))
        time.sleep(0.1)
    kinds = sorted(e["detail-type"] for e in received if e["detail"].get("order_id") == order["order_id"])
    # Each timeline item once; the authorization is also the customer-facing confirmation.
    assert kinds == expected
    captured = next(e for e in received if e["detail-type"] == "order.captured")
    assert captured["detail"]["order_id"] == order["order_id"]
    assert captured["detail"]["total"] == order["totals"]["total"]
    assert len({e["detail"]["event_id"] for e in received}) == len(expected)


def test_logs_carry_ids_but_no_personal_data(aws, caplog):
    caplog.set_level(logging.DEBUG, logger="oms")
    body = order_body("LOG-1")
    status, _, order = post(body)
    assert status == 201
    moto_patches.wait_for_streams()
    # Each record as the function writes it: the JSON line with every appended key.
    out = "\n".join(logger.registered_formatter.format(record) for record in caplog.records)
    assert order["order_id"] in out  # the capture is logged
    for secret in ("Ada@Example.com", "ada@example.com", "Ada Lovelace", "1 Main St", "+44 20 7946 0000", "10115"):
        assert secret not in out, secret
