"""OrderLifecycle step AcceptOrder: the order's execution has picked it up."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.capture.logic.accept import accept_order
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    return accept_order(
        event["order_id"],
        execution_name=event.get("execution_name", event["order_id"]),
        workflow_status=event.get("workflow_status", "RUNNING"),
    )
