"""What other domains use of the allocate domain (the only module they import from it)."""

from functions.allocate.logic.backorders import wake_order
from functions.allocate.logic.planning import open_quantity
from functions.allocate.logic.policy import load_policy
from functions.allocate.store import (
    allocations_of,
    backorder_waiter,
    consume_allocations,
    consume_fo_allocations,
    held,
    line_allocated_op,
    pinned,
)

__all__ = [
    "allocations_of",
    "backorder_waiter",
    "consume_allocations",
    "consume_fo_allocations",
    "held",
    "line_allocated_op",
    "load_policy",
    "open_quantity",
    "pinned",
    "wake_order",
]
