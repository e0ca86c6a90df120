"""OrderLifecycle step ReviewFulfillment: complete the order, or branch to re-route or keep fulfilling."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.fulfill.logic.review import review_or_branch
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    outcome = review_or_branch(event["order_id"])
    logger.info("fulfillment reviewed", extra={"next_step": outcome["next"]})
    return outcome
