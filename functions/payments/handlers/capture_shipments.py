"""OrderLifecycle step CaptureShipments: capture and invoice each shipment of a fulfillment order."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.payments.logic.capture import capture_shipments
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"], fo_id=event["fo_id"])
    outcome = capture_shipments(event["order_id"], event["fo_id"])
    logger.info("shipments captured", extra={"invoices": len(outcome["invoices"]), "amount": outcome["captured"]})
    return outcome
