"""Table stream consumer: when a SKU's available stock grows, wake the orders waiting for it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.logic.backorders import wake_for_skus
from functions.allocate.logic.stock_changes import skus_with_more_stock
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    skus = skus_with_more_stock(event.get("Records", []))
    woken = wake_for_skus(skus) if skus else 0
    if woken:
        logger.info("orders woken by stock", extra={"skus": len(skus), "woken": woken})
    return {"batchItemFailures": []}
