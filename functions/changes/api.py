"""What other domains (returns, the order view, operations) use of change orders."""

from __future__ import annotations

from typing import TYPE_CHECKING

# Who may change an order, and the money a change moves.
from functions.changes.logic.access import load_for_change

# Cancelling an order (channels relay a cancellation made on the sales channel).
from functions.changes.logic.cancel import cancel_order

# An operator's retry of a change's follow-up that failed after the change committed.
from functions.changes.logic.effects import FOLLOW_UP_ACTION
from functions.changes.logic.follow_up import rerun_follow_up

# The cancel request, and the money a change moves.
from functions.changes.logic.models import CancelRequest
from functions.changes.logic.settlement import PaymentPosition, issue_refund, payment_position, reserve_refund_op

# Change orders as the API shows them, and the order's current figures.
from functions.changes.logic.views import change_views
from functions.changes.rules.figures import change_line, change_totals, order_figures

# The merchant's change policy.
from functions.changes.rules.policy import ChangePolicy

# Change-order items, and the stored policy.
from functions.changes.store import change_item, load_change_policy

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router

__all__ = [
    "FOLLOW_UP_ACTION",
    "CancelRequest",
    "ChangePolicy",
    "PaymentPosition",
    "cancel_order",
    "change_item",
    "change_line",
    "change_totals",
    "change_views",
    "http_routers",
    "issue_refund",
    "load_change_policy",
    "load_for_change",
    "order_figures",
    "payment_position",
    "rerun_follow_up",
    "reserve_refund_op",
]


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers (imported on call: the handler module builds an app)."""
    from functions.changes.handlers.api import router

    return (router,)
