"""SQS consumer of CustomerNotifications: one customer message per domain event.

Each record's body is the EventBridge event the CustomerMessages rule delivered. A
failed record is reported alone and comes back; after the receive limit, the DLQ.
Logs carry ids and outcomes only, never the customer's address or name.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.notify.logic.notifications import DomainEvent, notify
from shared.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord) -> None:
    event = DomainEvent.from_json(record.body)
    result = notify(event)
    logger.info(
        "customer notification",
        extra={"kind": event.kind, "order_id": event.order_id, "event_id": event.event_id, "result": str(result)},
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
