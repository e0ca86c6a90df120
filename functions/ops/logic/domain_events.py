"""Timeline items become domain events: every change to an order is published once."""

from __future__ import annotations

from typing import Any


def domain_event(new_image: dict[str, Any]) -> dict[str, Any] | None:
    """The event for a newly inserted timeline item, or None for any other item."""
    if new_image.get("type") != "event":
        return None
    return {
        "detail_type": new_image["kind"],
        "detail": {
            "event_id": new_image["event_id"],
            "order_id": new_image["order_id"],
            "at": new_image["at"],
            **new_image.get("detail", {}),
        },
    }
