"""OrderLifecycle step ReleaseToFulfillment: one fulfillment order per location and delivery group."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.fulfill.logic.release import release_to_fulfillment
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    outcome = release_to_fulfillment(event["order_id"])
    logger.info(
        "released to fulfillment", extra={"created_orders": outcome["created"], "open_orders": len(outcome["open"])}
    )
    return outcome
