"""OrderLifecycle CancelUncollectedPickup: the customer did not come; cancel, void or refund, restock."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.changes.logic.no_show import cancel_uncollected_pickup
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"], fo_id=event["fo_id"])
    outcome = cancel_uncollected_pickup(event["order_id"], event["fo_id"])
    logger.info("uncollected pickup", extra=outcome)
    return outcome
