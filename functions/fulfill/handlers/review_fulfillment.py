"""OrderLifecycle step ReviewFulfillment: re-route, keep fulfilling, or complete the order."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.api import load_policy
from functions.fulfill.logic.review import review_fulfillment
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    outcome = review_fulfillment(event["order_id"])
    logger.info("fulfillment reviewed", extra={"next_step": outcome["next"], "open_orders": len(outcome["open"])})
    # The next pass over the fulfillment orders waits as long as the routing policy says
    # (the workflow keeps one answer of the last step, this one or AdvanceOrder's).
    return outcome | {"fulfillment_timeout_seconds": load_policy().fulfillment_timeout_seconds}
