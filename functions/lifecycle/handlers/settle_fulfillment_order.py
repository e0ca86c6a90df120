"""OrderLifecycle step SettleFulfillmentOrder: capture, invoice and review after one fulfillment order's wait."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.lifecycle.logic.settle import settle_fulfillment_order
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"], fo_id=event["fo_id"])
    outcome = settle_fulfillment_order(event["order_id"], event["fo_id"])
    logger.info("fulfillment order settled", extra={"next_step": outcome["next"], "amount": outcome["captured"]})
    return outcome
