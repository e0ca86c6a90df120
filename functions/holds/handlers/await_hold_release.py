"""OrderLifecycle AwaitHoldRelease: store the task token until the order's last hold ends."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.holds.logic.gate import park
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    return park(event["order_id"], event["task_token"])
