"""What other domains (and the order view) use of payments; nothing else of it is imported outside."""

from __future__ import annotations

from typing import TYPE_CHECKING

# The workflow's authorization of what the order will charge (the lifecycle's AdvanceOrder).
from functions.payments.logic.authorize import authorize_order

# Money moves a change order asks for, keyed by the change (an edit that raised the total authorizes more).
from functions.payments.logic.authorize_more import authorize_more, shortfall

# Capture and invoice of what a fulfillment order shipped (the lifecycle's settle step).
from functions.payments.logic.capture import capture_shipments
from functions.payments.logic.refund import refund
from functions.payments.logic.release import release_authorized_funds

# Refunds a change owes, reserved in the change's own transaction.
from functions.payments.logic.reservations import available_to_refund, drop_refund_reservation, reserve_refund_op

# Ledger figures of one payment.
from functions.payments.rules.ledger import open_amount

# The payment figures and records of GET /v1/orders/{id}.
from functions.payments.rules.summary import payment_summary

__all__ = [
    "authorize_more",
    "authorize_order",
    "available_to_refund",
    "capture_shipments",
    "drop_refund_reservation",
    "http_routers",
    "open_amount",
    "payment_summary",
    "refund",
    "release_authorized_funds",
    "reserve_refund_op",
    "shortfall",
]

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers, for the OpenAPI document (imported on call: handler modules build an app)."""
    from functions.payments.handlers.webhooks import router as webhooks_router

    return (webhooks_router,)
