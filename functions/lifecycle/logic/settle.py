"""OrderLifecycle SettleFulfillmentOrder: the last step of the wait on one fulfillment order.

Capture and invoice what it shipped (payments), then review the order (fulfill): when
nothing is open any more, the order completes here and the execution ends (with this
step on the single way, with the Map for several fulfillment orders), so no step after
it is paid for. Units to re-route, or this fulfillment order still open (a pickup wait
that ended early), branch back to AdvanceOrder; in the Map, other fulfillment orders
still open are their own iterations' business.
"""

from __future__ import annotations

import json
from typing import Any

from functions.fulfill.api import review_fulfillment
from functions.lifecycle.rules.steps import FulfillmentContinues, RerouteRejectedUnits
from functions.payments.api import capture_shipments


def settle_fulfillment_order(order_id: str, fo_id: str) -> dict[str, Any]:
    captured = capture_shipments(order_id, fo_id)
    review = review_fulfillment(order_id)
    if review["next"] == "reroute":
        raise RerouteRejectedUnits(json.dumps(review))
    if review["next"] == "fulfill" and {"fo_id": fo_id} in review["open"]:
        raise FulfillmentContinues(json.dumps(review))
    return {"next": review["next"], "invoices": captured["invoices"], "captured": captured["captured"]}
