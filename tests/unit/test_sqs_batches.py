"""SQS messages per order and their consumers at the target rate (tests/benchmarks/sqs_batches.py):
an event is a message on every queue a rule routes its type to, and Lambda's pollers
hand the consumer batches as full as the queue's rate fills them within the window."""

from __future__ import annotations

import pytest

from infra import manifest
from tests.benchmarks.sqs_batches import POLLERS, QueueAtTarget, at_target, batch_fill, queue_messages


def test_an_event_is_one_message_per_rule_that_routes_its_type() -> None:
    events = {"shipment.shipped": 1.0, "order.captured": 1.0, "fulfillment.picked": 2.0}
    # shipped: the customer's e-mail, webhooks and the sales channel; captured: webhooks only;
    # an event no rule routes is no message.
    assert queue_messages(events, {}) == {"CustomerNotifications": 1.0, "WebhookEvents": 2.0, "ChannelStatus": 1.0}


def test_messages_the_functions_send_add_to_their_queue() -> None:
    assert queue_messages({"order.confirmed": 1.0}, {"CarrierEvents": 1.0, "WebhookEvents": 0.5}) == {
        "CustomerNotifications": 1.0,
        "WebhookEvents": 1.5,
        "CarrierEvents": 1.0,
    }


def test_a_rule_is_read_from_the_manifest() -> None:
    rules = (manifest.EventRule(name="R", detail_types=("a.b",), queue="Q"),)
    assert queue_messages({"a.b": 2.0, "order.captured": 1.0}, {}, rules) == {"Q": 2.0}


@pytest.mark.parametrize(
    ("rate", "window", "fill"),
    [
        (1_000.0, 0, 1.0),  # no window: a waiting long poll returns with the first message
        (1_000.0, 1, 10.0),  # more than a batch per poller in the window: full
        (20.0, 1, 20.0 / POLLERS),  # each poller's share of a second's messages
        (1.0, 1, 1.0),  # never less than one
    ],
)
def test_a_batch_holds_a_pollers_share_of_the_window_at_most_the_batch_size(
    rate: float, window: int, fill: float
) -> None:
    assert batch_fill(10, rate, window) == pytest.approx(fill)


def test_at_the_target_rate_a_windowed_queue_is_one_invocation_and_two_requests_per_batch() -> None:
    queues = (
        manifest.QueueSpec(name="Busy", consumer="A", batch_size=10, max_batching_window_seconds=1),
        manifest.QueueSpec(name="Quiet", consumer="B", batch_size=10, max_batching_window_seconds=1),
        manifest.QueueSpec(name="Eager", consumer="C", batch_size=10),
        manifest.QueueSpec(name="Idle", consumer="D", batch_size=10, max_batching_window_seconds=1),
    )
    # 40 orders a second: Busy gets 400 messages a second, Quiet 20, Eager 40, Idle none.
    found = at_target({"Busy": 10.0, "Quiet": 0.5, "Eager": 1.0}, orders_per_second=40.0, queues=queues)
    assert found == [
        QueueAtTarget("Busy", "A", 10.0, 10.0),
        QueueAtTarget("Quiet", "B", 0.5, 4.0),
        QueueAtTarget("Eager", "C", 1.0, 1.0),
    ]
    busy, quiet, eager = found
    assert busy.invocations == pytest.approx(1.0) and busy.receive_and_delete_requests == pytest.approx(2.0)
    assert quiet.invocations == pytest.approx(0.125)
    assert eager.invocations == 1.0 and eager.receive_and_delete_requests == 2.0


def test_the_lifecycle_queues_fill_their_batches_at_the_capacity_target() -> None:
    """Webhooks (10 messages an order) and e-mail (3) fill batches of 10 at 2,500 orders a minute."""
    found = {q.queue: q for q in at_target({"WebhookEvents": 10.0, "CustomerNotifications": 3.0})}
    assert found["WebhookEvents"].batch == 10 and found["CustomerNotifications"].batch == 10
