"""OrderLifecycle catch: record the failed step as a process exception."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger
from shared.order.state import Reason, WorkflowStatus, record_workflow
from shared.process_exceptions import record_exception


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    error = event.get("error") or {}
    order_id = event["order_id"]
    item = record_exception(
        order_id=order_id,
        step=event.get("step", "OrderLifecycle"),
        error=str(error.get("Error", "Unknown")),
        cause=str(error.get("Cause", "")),
        retry={"action": "restart_lifecycle"},
    )
    # Before release to fulfillment the order failed; after it, stock and fulfillment
    # orders stand and the order waits on hold for the operator's retry.
    record_workflow(order_id, WorkflowStatus.FAILED, reason=Reason(event.get("reason", Reason.STEP_FAILED)))
    logger.warning("process exception", extra={"order_id": order_id, "exc_id": item["exc_id"]})
    return {"exc_id": item["exc_id"], "error": json.dumps(error)[:200]}
