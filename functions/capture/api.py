"""What other domains (operations, channels) use of capture."""

from __future__ import annotations

from typing import TYPE_CHECKING

# Capturing an order a channel sent some other way than POST /v1/orders (webhooks, imports).
from functions.capture.logic.capture import capture_order
from functions.capture.logic.models import OrderRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router

__all__ = ["OrderRequest", "capture_order", "http_routers"]


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers (imported on call: the handler module builds an app)."""
    from functions.capture.handlers.api import router

    return (router,)
