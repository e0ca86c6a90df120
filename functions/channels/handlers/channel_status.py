"""SQS consumer of ChannelStatus: shipments, cancellations and refunds of orders taken from a
sales platform, told to the platform (functions/channels/logic/channel_status.py).

A record is an EventBridge event the ChannelStatusUpdates rule delivered, or a status
update's next attempt. A record that raises comes back; after the receive limit, the DLQ.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.channels.logic.channel_status import handle_message
from shared.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord) -> None:
    outcome = handle_message(json.loads(record.body))
    logger.info("channel status", extra=outcome)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
