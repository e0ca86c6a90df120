"""OrderLifecycle WaitForStock: store the task token with the order until stock arrives."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.logic.backorders import park_order
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    return park_order(event["order_id"], event["task_token"], event.get("stock_seen"))
