"""What other domains (and the order view) use of the fulfill domain (the only module they import from it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.fulfill.logic.awaiting import await_fulfillment
from functions.fulfill.logic.cancellation import cancel_fulfillment_lines
from functions.fulfill.logic.pickup import pickup_code, uncollected_units
from functions.fulfill.logic.release import awaited_fulfillment_orders, release_to_fulfillment
from functions.fulfill.logic.review import review_fulfillment
from functions.fulfill.rules.views import fulfillment_order_view, shipment_view
from functions.fulfill.store import migrate_legacy_location_index

__all__ = [
    # Parking the workflow's task token with the fulfillment order it waits on (AdvanceOrder, AwaitFulfillment).
    "await_fulfillment",
    # The fulfillment orders an order backordered in part waits on before it waits for stock (AdvanceOrder).
    "awaited_fulfillment_orders",
    # Cancelling units held by fulfillment orders (change orders).
    "cancel_fulfillment_lines",
    # Fulfillment orders and shipments as GET /v1/orders/{id} shows them.
    "fulfillment_order_view",
    "http_routers",
    # Moving fulfillment orders indexed before a location's work was sharded (the index migration).
    "migrate_legacy_location_index",
    # Store pickup: the code for the customer's e-mail, and what a no-show cancels.
    "pickup_code",
    # The workflow's release of reserved units to fulfillment orders (the lifecycle's AdvanceOrder).
    "release_to_fulfillment",
    # After a fulfillment order's wait: re-route, keep waiting or complete (the lifecycle's settle step).
    "review_fulfillment",
    "shipment_view",
    "uncollected_units",
]

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers, for the OpenAPI document (imported on call: handler modules build an app)."""
    from functions.fulfill.handlers.api import router as fulfillment_router
    from functions.fulfill.handlers.carrier_webhooks import router as carrier_router

    return (fulfillment_router, carrier_router)
