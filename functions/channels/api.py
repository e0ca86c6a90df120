"""What other domains (operations) use of channels."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router

__all__ = ["http_routers"]


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers (imported on call: the handler modules build an app)."""
    from functions.channels.handlers.order_imports_api import router as order_imports
    from functions.channels.handlers.shopify_webhooks import router as shopify
    from functions.channels.handlers.webhooks_api import router as webhooks

    return (shopify, webhooks, order_imports)
