"""OrderLifecycle AdvanceOrder: allocate, then screen, authorize and release to fulfillment,
in one task, stopping where the order has to wait.

Each sub-step is its domain's own idempotent use case, so the whole step may be retried
(Step Functions' Retry after a transient failure anywhere in it) and re-entered (after
WaitForStock, AwaitHoldRelease or a re-route) without doing anything twice:

- ``allocate_order`` reserves only units not yet allocated; a run that finds none writes
  nothing, and a concurrent or retried run loses the allocation round on a condition;
- ``check_holds`` screens an order once (the verdict is stored on a condition) and only
  expires holds that are due;
- ``authorize_order`` does nothing while open authorizations cover the charge, and the
  provider call carries an idempotency key per authorization;
- ``release_to_fulfillment`` links each allocation to one fulfillment order on a
  condition and finishes what an interrupted run began.

Units backordered while fulfillment orders are still open (a rejection no other location
can take) wait behind those first: waiting for stock there would leave their shipments
uncaptured until stock came or the backorder timed out.

Errors keep their names for the state machine's Catch: ``PaymentDeclined`` (release the
stock, fail the order), transient ones (``RetryableError``, ``Throttled``: retried), the
rest (compensation and a process exception). A hold placed between the gate and the
release (``OrderHeld``, refused by the release's transaction) sends the order back through
the gate here, not through the state machine.
"""

from __future__ import annotations

from dataclasses import replace

from functions.allocate.api import allocate_order
from functions.fulfill.api import awaited_fulfillment_orders, release_to_fulfillment, review_fulfillment
from functions.holds.api import check_holds
from functions.lifecycle.rules.steps import Advance, Next
from functions.payments.api import authorize_order
from shared.errors import RetryableError
from shared.order.state import OrderHeld
from shared.retry import attempts

_GATE_ATTEMPTS = 3


def advance_order(order_id: str) -> Advance:
    allocation = allocate_order(order_id)
    allocated = Advance(
        Next.WAIT_FOR_STOCK,
        allocated_units=allocation.allocated_units,
        backordered_units=allocation.backordered_units,
        backorder_timeout_seconds=allocation.backorder_timeout_seconds,
        fulfillment_timeout_seconds=allocation.fulfillment_timeout_seconds,
        stock_seen=allocation.stock_seen,
    )
    if allocation.backordered_units:
        # Released before (a rejection found no stock elsewhere): the fulfillment orders still
        # open are waited on first, so what they ship is captured as it ships, and each one's
        # review brings the order back here; the stock wait starts once none is left.
        waiting = awaited_fulfillment_orders(order_id)
        return replace(allocated, next=Next.FULFILL, open=waiting) if waiting else allocated
    for _ in attempts(_GATE_ATTEMPTS):
        gate = check_holds(order_id)
        if gate["held"]:
            return replace(allocated, next=Next.AWAIT_HOLD_RELEASE, hold_timeout_seconds=int(gate["timeout_seconds"]))
        payment = authorize_order(order_id)
        try:
            released = release_to_fulfillment(order_id)
        except OrderHeld:
            continue  # held since the gate looked: the gate looks again
        if not released["open"]:
            # Nothing left to wait on (the rest was cancelled while the order waited, after
            # its other fulfillment orders had settled): no settle step will come to complete it.
            review_fulfillment(order_id)
        return replace(
            allocated,
            next=Next.FULFILL,
            payment_id=payment["payment_id"],
            authorized=int(payment["authorized"]),
            open=released["open"],
            created=int(released["created"]),
        )
    raise RetryableError(f"order {order_id}: holds kept changing while it was released")
