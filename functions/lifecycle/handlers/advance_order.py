"""OrderLifecycle step AdvanceOrder: allocate, screen, authorize, release and wait on the
fulfillment order; or branch to another wait."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.fulfill.api import await_fulfillment
from functions.lifecycle.logic.advance import advance_order
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event["order_id"])
    outcome = advance_order(event["order_id"])
    logger.info(
        "order advanced",
        extra={
            "next_step": outcome.next.value,
            "allocated": outcome.allocated_units,
            "backordered": outcome.backordered_units,
            "created_orders": outcome.created,
        },
    )
    branch = outcome.branch()
    if branch:
        raise branch
    # The one fulfillment order: this task waits on it (the token parked for it), so the
    # wait is no state of its own to pay a transition for. Step Functions takes the task's
    # result from the wait's callback; what is returned here goes no further.
    return outcome.as_state() | await_fulfillment(event["order_id"], outcome.open[0]["fo_id"], event["task_token"])
