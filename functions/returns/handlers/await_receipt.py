"""ReturnLifecycle AwaitReceipt: store the task token with the return until goods arrive."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.returns.logic.settle import await_receipt
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"], return_id=event["return_id"])
    return await_receipt(event["return_id"], event["task_token"])
