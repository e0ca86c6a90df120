"""What a composite step answers the workflow: the next state and what that state reads.

An order released to one fulfillment order, the common way, is waited on by AdvanceOrder's
own task (the handler parks the task token for it), so neither a wait state nor a Map
costs a transition; any other outcome ends the task with a branch (``AwaitingStock``,
``AwaitingHoldRelease``, ``SeveralFulfillmentOrders``) whose message is the answer, and the
Choice there routes on ``next``. Each wait reads only its own fields (``stock_seen`` and
``backorder_timeout_seconds`` for WaitForStock, ``hold_timeout_seconds`` for
AwaitHoldRelease, ``open`` and ``fulfillment_timeout_seconds`` for FulfillEach).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.workflow import WorkflowBranch


class AwaitingStock(WorkflowBranch):
    """Units are backordered: the workflow waits for stock (WaitForStock)."""


class AwaitingHoldRelease(WorkflowBranch):
    """The order is held: the workflow waits for its holds to end (AwaitHoldRelease)."""


class SeveralFulfillmentOrders(WorkflowBranch):
    """The order waits on more than one fulfillment order (or none): the workflow waits on each at once.

    A Map (FulfillEach) for the one fulfillment order most orders have would be a paid
    transition on each of them, so only the other cases take it.
    """


class RerouteRejectedUnits(WorkflowBranch):
    """Locations rejected units: the workflow allocates them again (AdvanceOrder)."""


class FulfillmentContinues(WorkflowBranch):
    """The fulfillment order just settled is still open: the workflow waits on it again (through AdvanceOrder)."""


class Next(StrEnum):
    WAIT_FOR_STOCK = "wait_for_stock"
    AWAIT_HOLD_RELEASE = "await_hold_release"
    FULFILL = "fulfill"


@dataclass(frozen=True)
class Advance:
    """The outcome of AdvanceOrder: allocate, then screen, authorize and release while nothing stops it."""

    next: Next
    allocated_units: int
    backordered_units: int
    backorder_timeout_seconds: int
    fulfillment_timeout_seconds: int
    # Backordered SKUs' units seen when the plan was made (WaitForStock resumes only on more).
    stock_seen: dict[str, int] = field(default_factory=dict)
    hold_timeout_seconds: int | None = None
    payment_id: str | None = None
    authorized: int = 0
    # The fulfillment orders the workflow waits on, and how many this run created.
    open: list[dict[str, str]] = field(default_factory=list)
    created: int = 0

    def as_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "next": self.next.value,
            "allocated_units": self.allocated_units,
            "backordered_units": self.backordered_units,
            "backorder_timeout_seconds": self.backorder_timeout_seconds,
            "fulfillment_timeout_seconds": self.fulfillment_timeout_seconds,
            "open": self.open,
        }
        if self.next is Next.WAIT_FOR_STOCK:
            state["stock_seen"] = self.stock_seen
        if self.next is Next.AWAIT_HOLD_RELEASE:
            state["hold_timeout_seconds"] = self.hold_timeout_seconds
        if self.next is Next.FULFILL:
            state |= {"payment_id": self.payment_id, "authorized": self.authorized, "created": self.created}
        return state

    def branch(self) -> WorkflowBranch | None:
        """The branch AdvanceOrder ends with, carrying the answer; None to wait on the one fulfillment order."""
        if self.next is Next.WAIT_FOR_STOCK:
            return AwaitingStock(json.dumps(self.as_state()))
        if self.next is Next.AWAIT_HOLD_RELEASE:
            return AwaitingHoldRelease(json.dumps(self.as_state()))
        if len(self.open) != 1:
            return SeveralFulfillmentOrders(json.dumps(self.as_state()))
        return None
