"""SQS consumer: bulk channel imports, one order per message.

Body: ``{"order": <POST /v1/orders body>}``. A redelivered message meets its own order
through the channel + external id uniqueness and counts as done. A message that fails
validation is rejected at once (retrying cannot fix it) and ends in the DLQ.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.capture.logic.capture import capture_order
from functions.capture.logic.models import OrderRequest
from shared.api.caller import Caller
from shared.observability import logger
from shared.order.record import DuplicateOrder

processor = BatchProcessor(event_type=EventType.SQS)
IMPORTER = Caller(principal_id="bulk-import", role="ops")


def _record(record: SQSRecord) -> None:
    request = OrderRequest.model_validate(json.loads(record.body)["order"])
    try:
        view = capture_order(request, IMPORTER)
        logger.info("order imported", extra={"order_id": view.order_id})
    except DuplicateOrder as dup:
        logger.info("order already imported", extra={"order_id": dup.order_id})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
