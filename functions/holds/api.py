"""What other domains (the order view, operations) use of holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

# The workflow's hold gate (screening, expiry, held or not), run by the lifecycle's AdvanceOrder.
from functions.holds.logic.gate import check_holds

# An order's holds as the API shows them.
from functions.holds.logic.holds import hold_view, hold_views

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router

__all__ = ["check_holds", "hold_view", "hold_views", "http_routers"]


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers (imported on call: the handler module builds an app)."""
    from functions.holds.handlers.api import router

    return (router,)
