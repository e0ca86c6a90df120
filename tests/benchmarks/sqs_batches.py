"""SQS messages per order, and what their queues' consumers cost at the target rate.

Which queues a published event reaches is the event rules' business (``manifest.EVENT_RULES``):
EventBridge sends an event to the target of every rule whose detail types hold its type, so
an event may be one message (``order.captured``: WebhookEvents), three (``shipment.shipped``:
CustomerNotifications, WebhookEvents, ChannelStatus) or none.

The local stack hands a triggered queue's messages to its consumer about one at a time
(``infra/local/moto_patches.py``): as run locally every message is a receive, a delete and
an invocation of its own. In AWS, Lambda's pollers (five concurrent batches for a standard
queue at moderate traffic: "Configuring scaling behavior for SQS event source mappings")
take up to the mapping's batch size in one ReceiveMessage, delete what succeeded in one
DeleteMessageBatch and invoke the consumer once per batch. How full a batch is depends on
the rate: a poller waiting on a long poll returns with the first message that arrives, so
without a batching window a queue that keeps up is modelled at one message a batch (a
lower bound); with a window, a poller gathers its share of what arrives during the window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from infra import manifest

# Concurrent batches Lambda reads from a standard queue that keeps up (it scales up only on a backlog).
POLLERS = 5
# The capacity model's target processes 2,500 orders a minute (and places 5,000): every
# message of an order arrives at least at the processed rate, so batches fill at least as
# modelled.
TARGET_ORDERS_PER_SECOND = 2_500 / 60


def queue_messages(
    events_by_type: Mapping[str, float],
    sent_by_queue: Mapping[str, float],
    rules: Sequence[manifest.EventRule] = manifest.EVENT_RULES,
) -> dict[str, float]:
    """Messages each queue receives: one per published event per rule that routes its type
    there, plus those the functions sent (``sent_by_queue``, keyed by queue name)."""
    out: dict[str, float] = {}
    for rule in rules:
        routed = sum(n for detail_type, n in events_by_type.items() if detail_type in rule.detail_types)
        out[rule.queue] = out.get(rule.queue, 0.0) + routed
    for queue, n in sent_by_queue.items():
        out[queue] = out.get(queue, 0.0) + n
    return {queue: n for queue, n in out.items() if n}


def batch_fill(batch_size: int, messages_per_second: float, window_seconds: float, pollers: int = POLLERS) -> float:
    """Messages in an average batch: the poller's share of what arrives during the window, at
    most the batch size; one without a window."""
    if window_seconds <= 0:
        return 1.0
    return max(1.0, min(float(batch_size), messages_per_second * window_seconds / pollers))


@dataclass(frozen=True)
class QueueAtTarget:
    """One queue's messages per order and its consumer's cost per order at the target rate."""

    queue: str
    consumer: str
    messages: float
    batch: float  # messages a batch

    @property
    def invocations(self) -> float:
        return self.messages / self.batch

    @property
    def receive_and_delete_requests(self) -> float:
        """A ReceiveMessage and a DeleteMessageBatch per batch (sends are counted where they are made)."""
        return 2 * self.invocations


def at_target(
    messages_per_order: Mapping[str, float],
    orders_per_second: float = TARGET_ORDERS_PER_SECOND,
    queues: Sequence[manifest.QueueSpec] = manifest.QUEUES,
) -> list[QueueAtTarget]:
    """Each queue that received messages, with its batches as full as the target's rate fills them."""
    out = []
    for spec in queues:
        messages = messages_per_order.get(spec.name, 0.0)
        if messages:
            fill = batch_fill(spec.batch_size, messages * orders_per_second, spec.max_batching_window_seconds)
            out.append(QueueAtTarget(spec.name, spec.consumer, messages, fill))
    return out
