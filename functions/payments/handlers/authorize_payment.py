"""OrderLifecycle step AuthorizePayment: authorize what the order will charge.

PaymentDeclined propagates under its own name (the workflow releases the stock and
fails the order); an unavailable provider surfaces as RetryableError (retried).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.payments.logic.authorize import authorize_order
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    outcome = authorize_order(event["order_id"])
    logger.info("payment authorized", extra={"payment_id": outcome["payment_id"], "amount": outcome["authorized"]})
    return outcome
