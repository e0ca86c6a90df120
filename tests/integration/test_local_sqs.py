"""The local stack's SQS behaves as SQS where the OMS depends on it."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.sqs import models as sqs_models


def test_sending_does_not_count_the_queues_messages_but_its_attributes_still_do(aws, monkeypatch: pytest.MonkeyPatch):
    """moto's send_message built the queue's attribute map, three passes over every message
    it holds, to read one attribute (moto_patches 39)."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="counted")["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)

    looked: list[str] = []
    visible = sqs_models.Message.visible

    def counted_visible(message: Any) -> bool:
        looked.append(message.body)
        return bool(visible.fget(message))

    monkeypatch.setattr(sqs_models.Message, "visible", property(counted_visible))
    sqs.send_message(QueueUrl=url, MessageBody="one more")
    assert looked == []

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert looked  # the counts read the messages
    counts = [
        attributes[f"ApproximateNumberOf{kind}"] for kind in ("Messages", "MessagesNotVisible", "MessagesDelayed")
    ]
    assert counts == ["4", "2", "1"]
