"""OrderLifecycle step ScreenOrder: screen for fraud once, expire due holds, say whether to wait."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.holds.logic.gate import check_holds
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    return check_holds(event["order_id"])
