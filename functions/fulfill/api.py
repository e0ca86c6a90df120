"""What other domains (and the order view) use of the fulfill domain (the only module they import from it)."""

from functions.fulfill.logic.cancellation import cancel_fulfillment_lines
from functions.fulfill.rules.views import fulfillment_order_view, shipment_view

__all__ = [
    # Cancelling units held by fulfillment orders (change orders).
    "cancel_fulfillment_lines",
    # Fulfillment orders and shipments as GET /v1/orders/{id} shows them.
    "fulfillment_order_view",
    "shipment_view",
]
