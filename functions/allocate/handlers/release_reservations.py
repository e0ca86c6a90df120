"""OrderLifecycle compensation: release every reservation the order holds."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.logic.allocation import release_all
from shared.observability import logger
from shared.order.state import record_workflow


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    released = release_all(event["order_id"])
    if event.get("workflow_status_when_done"):  # the execution ends here (a declined payment)
        record_workflow(event["order_id"], event["workflow_status_when_done"])
    return released
