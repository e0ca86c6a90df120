"""OrderLifecycle AwaitFulfillment: store the task token with the fulfillment order."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.fulfill.logic.awaiting import await_fulfillment
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"], fo_id=event["fo_id"])
    return await_fulfillment(event["order_id"], event["fo_id"], event["task_token"])
