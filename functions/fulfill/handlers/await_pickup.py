"""OrderLifecycle AwaitPickup: store the task token with the order waiting at the store."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.fulfill.logic.pickup import await_pickup
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"], fo_id=event["fo_id"])
    return await_pickup(event["order_id"], event["fo_id"], event["task_token"])
