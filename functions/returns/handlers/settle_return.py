"""ReturnLifecycle SettleReturn / ExpireReturn / ReturnFailed: refund what arrived, close,
expire what never came, or record a process exception."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.returns.logic.settle import settle_return
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"], return_id=event["return_id"])
    return settle_return(
        event["return_id"], event["order_id"], expire=bool(event.get("expire")), error=event.get("error")
    )
