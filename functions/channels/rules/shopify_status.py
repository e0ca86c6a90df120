"""What the OMS tells Shopify about an order it took from Shopify, pure: the Admin API
GraphQL documents and their variables, and reading Shopify's answers.

Shipped: ``fulfillmentCreate`` on the order's open fulfillment orders, the shipped units
matched to Shopify's line items by SKU, with the carrier and tracking number. Cancelled:
``orderCancel`` (restock, no refund: the OMS refunds through its own payments). Refunded:
``refundCreate`` with the amount and a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_VERSION = "2025-01"

# The domain events a platform hears about; the ChannelStatusUpdates rule (infra/manifest.py) routes them.
STATUS_EVENT_TYPES: tuple[str, ...] = ("shipment.shipped", "order.cancelled", "payment.refunded")

FULFILLMENT_STATE = """
query OrderFulfillmentState($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 50) { trackingInfo { number } }
    fulfillmentOrders(first: 20) {
      nodes { id status lineItems(first: 100) { nodes { id sku remainingQuantity } } }
    }
  }
}
"""

FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""

ORDER_CANCEL = """
mutation OrderCancel(
  $orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!, $refund: Boolean!, $staffNote: String
) {
  orderCancel(
    orderId: $orderId, reason: $reason, restock: $restock, refund: $refund, staffNote: $staffNote, notifyCustomer: true
  ) {
    job { id }
    orderCancelUserErrors { field message code }
  }
}
"""

REFUND_CREATE = """
mutation RefundCreate($input: RefundInput!) {
  refundCreate(input: $input) {
    refund { id }
    userErrors { field message }
  }
}
"""

# Shopify's carrier names for the OMS's carrier codes (others go as they are).
CARRIER_NAMES = {"dhl": "DHL Express", "ups": "UPS", "fedex": "FedEx", "usps": "USPS", "dpd": "DPD", "gls": "GLS"}


class NothingToFulfill(Exception):
    """Shopify has no open fulfillment order line for the shipped units (fulfilled elsewhere?)."""


def order_gid(external_id: str) -> str:
    return external_id if external_id.startswith("gid://") else f"gid://shopify/Order/{external_id}"


def already_fulfilled(state: Mapping[str, Any], tracking_number: str) -> bool:
    """A fulfillment with this tracking number exists: an earlier attempt went through."""
    fulfillments = (state.get("order") or {}).get("fulfillments") or []
    return any(
        (info or {}).get("number") == tracking_number for f in fulfillments for info in f.get("trackingInfo") or []
    )


def fulfillment_input(
    state: Mapping[str, Any], shipped: Mapping[str, int], carrier: str, tracking_number: str
) -> dict[str, Any]:
    """``FulfillmentInput`` for the shipped units (SKU -> quantity), over the open fulfillment orders."""
    wanted = dict(shipped)
    groups: list[dict[str, Any]] = []
    for fo in ((state.get("order") or {}).get("fulfillmentOrders") or {}).get("nodes") or []:
        if fo.get("status") not in ("OPEN", "IN_PROGRESS"):
            continue
        lines = []
        for line in (fo.get("lineItems") or {}).get("nodes") or []:
            take = min(wanted.get(str(line.get("sku")), 0), int(line.get("remainingQuantity") or 0))
            if take > 0:
                lines.append({"id": line["id"], "quantity": take})
                wanted[str(line["sku"])] -= take
        if lines:
            groups.append({"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": lines})
    if not groups:
        raise NothingToFulfill(f"no open Shopify fulfillment order holds {dict(shipped)}")
    return {
        "lineItemsByFulfillmentOrder": groups,
        "trackingInfo": {"company": CARRIER_NAMES.get(carrier.lower(), carrier), "number": tracking_number},
        "notifyCustomer": True,
    }


def user_errors(data: Mapping[str, Any], mutation: str) -> list[str]:
    result = data.get(mutation) or {}
    errors = result.get("userErrors") or result.get("orderCancelUserErrors") or []
    return [str(e.get("message")) for e in errors]
