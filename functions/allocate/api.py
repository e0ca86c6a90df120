"""What other domains use of the allocate domain (the only module they import from it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.allocate.logic.allocation import allocate_order
from functions.allocate.logic.backorders import wake_order
from functions.allocate.logic.planning import open_quantity
from functions.allocate.logic.policy import load_policy
from functions.allocate.store import (
    allocation_keys,
    backorder_waiter,
    consume_allocations,
    consume_fo_allocations,
    held,
    in_allocation_order,
    line_allocated_op,
    pinned,
)

__all__ = [
    "allocate_order",
    "allocation_keys",
    "backorder_waiter",
    "consume_allocations",
    "consume_fo_allocations",
    "held",
    "http_routers",
    "in_allocation_order",
    "line_allocated_op",
    "load_policy",
    "open_quantity",
    "pinned",
    "wake_order",
]

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers, for the OpenAPI document (imported on call: handler modules build an app)."""
    from functions.allocate.handlers.api import router as config_router

    return (config_router,)
