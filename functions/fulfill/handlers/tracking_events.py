"""SQS consumer of CarrierEvents: apply each verified tracking event to its shipment.

A failed record is reported alone (partial batch response) and comes back later; after
the queue's receive limit it lands in the DLQ. Applying an event twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.fulfill.logic.carriers.model import TrackingEvent
from functions.fulfill.logic.tracking import apply_tracking_event
from shared.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord) -> None:
    event = TrackingEvent.model_validate_json(record.body)
    outcome = apply_tracking_event(event)
    logger.info(
        "tracking event",
        extra={"source": event.source, "event_id": event.event_id, "status": event.status, "outcome": str(outcome)},
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
