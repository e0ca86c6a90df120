"""What other domains use of the lifecycle: nothing yet (the state machine calls its handlers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["http_routers"]

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router


def http_routers() -> tuple[Router, ...]:
    """The domain serves no HTTP route."""
    return ()
