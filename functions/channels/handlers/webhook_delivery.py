"""SQS consumer of WebhookEvents: domain events to subscribers, and retries of deliveries.

A record is either the EventBridge event the WebhookEvents rule delivered (fanned out to
every subscription of its type) or ``{"delivery_id"}``, a delivery's next attempt. A record
that raises comes back (its deliveries are found again by id); after the receive limit, the DLQ.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.channels.logic.webhooks import dispatch_event, retry_delivery
from functions.channels.store import list_subscriptions
from shared.observability import logger
from shared.table import Item

processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord, subscriptions: Callable[[], list[Item]]) -> None:
    body = json.loads(record.body)
    if "delivery_id" in body:
        did = str(body["delivery_id"])
        logger.info("webhook retry", extra={"delivery_id": did, "status": retry_delivery(did)})
        return
    outcome = dispatch_event(body, subscriptions())
    logger.info("webhook event", extra={"event_type": body.get("detail-type"), "deliveries": outcome})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # The subscriptions are read once a batch, at its first event (a failed read is tried
    # again at the next), not once an event: a batch holds up to ten.
    subscriptions = functools.cache(list_subscriptions)
    return process_partial_response(
        event=event,
        record_handler=functools.partial(_record, subscriptions=subscriptions),
        processor=processor,
        context=context,
    )
