"""OrderLifecycle step AllocateOrder: route the order and reserve its stock."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.logic.allocation import allocate_order
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    outcome = allocate_order(event["order_id"], workflow_status_when_done=event.get("workflow_status_when_done"))
    logger.info(
        "order allocated", extra={"allocated": outcome.allocated_units, "backordered": outcome.backordered_units}
    )
    return outcome.as_dict()
