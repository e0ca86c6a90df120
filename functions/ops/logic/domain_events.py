"""Timeline items become domain events: every change to an order is published once.

Each timeline item is published under its own kind. Some kinds also mean a business
moment other consumers subscribe to by name; those are published a second time under
that name (``ALSO_PUBLISHED``) with an ``event_id`` of their own, derived from the item's,
so a consumer that deduplicates by ``event_id`` keeps both.
"""

from __future__ import annotations

from typing import Any

# Timeline kind -> further detail types it is published as.
ALSO_PUBLISHED: dict[str, tuple[str, ...]] = {
    # The payment is authorized: the order is confirmed to the customer.
    "payment.authorized": ("order.confirmed",),
}


def domain_events(new_image: dict[str, Any]) -> list[dict[str, Any]]:
    """The events for a newly inserted timeline item; none for any other item."""
    if new_image.get("type") != "event":
        return []
    kind = new_image["kind"]
    detail = {
        "event_id": new_image["event_id"],
        "order_id": new_image["order_id"],
        "at": new_image["at"],
        **new_image.get("detail", {}),
    }
    events = [{"detail_type": kind, "detail": detail}]
    for also in ALSO_PUBLISHED.get(kind, ()):
        derived = {**detail, "event_id": f"{new_image['event_id']}.{also}", "timeline_event_id": new_image["event_id"]}
        events.append({"detail_type": also, "detail": derived})
    return events
