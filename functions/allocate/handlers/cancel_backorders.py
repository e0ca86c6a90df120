"""OrderLifecycle step CancelBackorders: what waited past the policy's time is cancelled."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.logic.backorders import cancel_backorders
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    return cancel_backorders(event["order_id"], workflow_status_when_done=event.get("workflow_status_when_done"))
