"""What other domains (the order view, operations) use of returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

# Returns as the API shows them.
from functions.returns.logic.views import return_views

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router

__all__ = ["http_routers", "return_views"]


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers (imported on call: the handler module builds an app)."""
    from functions.returns.handlers.api import router

    return (router,)
