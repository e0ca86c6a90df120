"""SQS consumer of OrderImport: one chunk of imported orders per message.

A chunk already counted is skipped; a transient failure fails the message, which comes back
and finds the orders it captured already (``exists``) without counting twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.channels.logic.order_imports import apply_order_chunk, parse_order_chunk
from shared.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord) -> None:
    chunk = parse_order_chunk(record.body)
    counted = apply_order_chunk(chunk)
    logger.info("order import chunk", extra={"import_id": chunk.import_id, "chunk": chunk.chunk, "counted": counted})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
