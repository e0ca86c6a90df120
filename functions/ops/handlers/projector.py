"""Table stream consumer: new timeline items -> domain events on EventBridge.

Records are processed one by one with partial batch failure reporting, so one bad record
is retried (then sent to the stream's failure destination) without holding back the rest.
EventBridge consumers deduplicate by ``event_id`` (a retried batch may publish twice).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ops.logic.domain_events import domain_event
from shared.event_bus import publish
from shared.observability import logger

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _record(record: DynamoDBRecord) -> None:
    if record.event_name is None or record.event_name.name != "INSERT" or record.dynamodb is None:
        return
    image = record.dynamodb.new_image
    event = domain_event(_ints(image))
    if event:
        publish([event])


def _ints(value: Any) -> Any:
    """Stream images carry Decimal numbers; events carry plain ints."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
