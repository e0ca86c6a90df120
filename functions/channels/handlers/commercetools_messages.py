"""SQS consumer of CommercetoolsMessages: a commercetools Subscription's deliveries
(functions/channels/logic/commercetools_orders.py). An order that cannot be captured is
recorded refused; a transient failure comes back, then the DLQ.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.channels.logic.commercetools_orders import receive_message
from shared.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord) -> None:
    outcome = receive_message(json.loads(record.body))
    log = logger.error if outcome.get("result") == "refused" else logger.info
    log("commercetools message", extra=outcome)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
