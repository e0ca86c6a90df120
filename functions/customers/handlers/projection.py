"""Table stream consumer: changes to an order's items keep its read models (facts, customer, demand)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.customers.logic.projection import orders_of_records, project_order
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    failures: list[dict[str, str]] = []
    for order_id, lines_only in orders_of_records(records).items():
        try:
            project_order(order_id, lines_only=lines_only)
        except Exception:
            logger.exception("read models not updated", extra={"order_id": order_id})
            # Retry from the first record of this order: re-projecting is idempotent.
            first = next(
                r for r in records if r["dynamodb"].get("Keys", {}).get("pk", {}).get("S") == f"ORDER#{order_id}"
            )
            failures.append({"itemIdentifier": first["dynamodb"]["SequenceNumber"]})
            break
    return {"batchItemFailures": failures}
