"""The order list's filters the console's operations page uses: fulfillment status (orders
waiting for stock) and unchanged since (open orders stuck somewhere)."""

from __future__ import annotations

from shared.order.record import load_order
from tests.integration.test_cancel_and_adjust import wait_for
from tests.integration.test_capture_api import get, order_body, post

OPS = "dev-ops-key"


def _ids(query: dict[str, str]) -> list[str]:
    status, _, page = get("/v1/orders", "/v1/orders", key=OPS, query=query)
    assert status == 200, page
    return [o["order_id"] for o in page["items"]]


def _waiting_for_stock(order_id: str) -> bool:
    record = load_order(order_id)
    return record is not None and record.header.get("fulfillment_status") == "backordered"


def test_fulfillment_status_and_updated_before_filter_the_list(aws):
    placed = [post(order_body(f"F-{i}"))[2] for i in range(3)]
    everything = _ids({"limit": "200"})
    assert {o["order_id"] for o in placed} <= set(everything)

    # Nothing is in stock: each lifecycle runs on until its order waits for stock, and stays.
    for order in placed:
        wait_for(lambda order_id=order["order_id"]: _waiting_for_stock(order_id), timeout=60)
    assert set(_ids({"fulfillment_status": "backordered"})) == {o["order_id"] for o in placed}
    assert _ids({"fulfillment_status": "delivered"}) == []

    assert _ids({"updated_before": "2000-01-01T00:00:00Z"}) == []
    assert set(_ids({"updated_before": "2999-01-01T00:00:00Z"})) == set(everything)
    # Filters combine with the others (status here) and keep the newest-first order.
    assert _ids({"status": "open", "updated_before": "2999-01-01T00:00:00Z"}) == [
        o for o in everything if o in {p["order_id"] for p in placed if p["status"] == "open"}
    ]


def test_unknown_fulfillment_status_or_a_bad_instant_is_422_naming_the_field(aws):
    status, _, problem = get("/v1/orders", "/v1/orders", key=OPS, query={"fulfillment_status": "lost"})
    assert status == 422 and problem["errors"][0]["field"] == "fulfillment_status"
    status, _, problem = get("/v1/orders", "/v1/orders", key=OPS, query={"updated_before": "yesterday"})
    assert status == 422 and problem["errors"][0]["field"] == "updated_before"
