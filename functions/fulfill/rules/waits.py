"""How the wait on a fulfillment order ends, as the workflow hears it.

Most news ends the wait on the common way: capture what shipped, and the iteration is
over. Two kinds of news leave it by a named branch, which the task's Catch routes (the
state machine has no Choice state on the way an order usually takes):

- ``FulfillmentReadyForPickup``: the order waits at the store; the execution moves on to
  its pickup wait, whose timeout is the no-show.
- ``FulfillmentOrderOpen``: part of the order shipped or was cancelled and the rest is
  still open; what shipped is captured and the wait goes on.
"""

from __future__ import annotations

from functions.fulfill.rules.status import READY_FOR_PICKUP, is_terminal
from shared.table import Item

READY_FOR_PICKUP_BRANCH = "FulfillmentReadyForPickup"
ORDER_OPEN_BRANCH = "FulfillmentOrderOpen"
BRANCHES = (READY_FOR_PICKUP_BRANCH, ORDER_OPEN_BRANCH)

# News after which the rest of a still-open order is simply waited on again; a rejection
# ends the wait so that the rejected units are re-routed.
_PARTIAL = ("shipped", "cancelled")


def branch_of(event: str, fo: Item) -> str | None:
    """The branch the news ``event`` about ``fo`` (as written with it) takes; None for the common way."""
    if event == READY_FOR_PICKUP:
        return READY_FOR_PICKUP_BRANCH
    if event in _PARTIAL and not is_terminal(fo):
        return ORDER_OPEN_BRANCH
    return None
