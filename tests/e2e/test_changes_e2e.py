"""Change orders through the local stack's HTTP API only: a cancel, a partial return, an exchange.

Every figure is worked out by hand in the test (largest-remainder splits, the returns
policy's defaults) and compared to the cent with what the stack reports.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Api, get_order, put_location, put_stock, wait_for_order

pytestmark = pytest.mark.e2e

WMS = "dev-wms-key"  # bound to wh-east, wh-west, wh-central
OPS = "dev-ops-key"


def _order_body(external_id: str, lines: list[dict[str, Any]], *, promotion: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "web",
        "external_id": external_id,
        "customer": {"email": f"{external_id.lower()}@example.com", "name": "Grace Hopper"},
        "currency": "EUR",
        "lines": lines,
        "shipping": {
            "address": {"line1": "Zeil 1", "city": "Frankfurt", "postal_code": "60313", "country": "DE"},
            "method": "standard",
            "amount": 495,
        },
        "payment": {"provider": "sandbox", "token": "tok_visa"},
    }
    if promotion:
        body["promotions"] = [{"code": "CXPROMO", "amount": promotion}]
    return body


def _place(api: Api, external_id: str, lines: list[dict[str, Any]], *, promotion: int = 0) -> dict[str, Any]:
    response = api.post("/v1/orders", _order_body(external_id, lines, promotion=promotion))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _ready_to_ship(api: Api, order_id: str, fos: int = 1) -> dict[str, Any]:
    """Authorized, and its fulfillment orders waiting for the warehouse."""
    return wait_for_order(
        api,
        order_id,
        lambda o: (
            o["payment_status"] == "authorized"
            and len([f for f in o["fulfillment_orders"] if f["status"] == "allocated"]) >= fos
        ),
    )


def _ship_fo(api: Api, fo_id: str, tracking: str) -> dict[str, Any]:
    for step in ("accept", "pick", "pack"):
        response = api.post(f"/v1/fulfillment-orders/{fo_id}/{step}", {}, key=WMS)
        assert response.status_code == 200, response.text
    response = api.post(
        f"/v1/fulfillment-orders/{fo_id}/ship", {"carrier": "generic", "tracking_number": tracking}, key=WMS
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _ship_everything(api: Api, order_id: str, tracking: str) -> dict[str, Any]:
    order = _ready_to_ship(api, order_id)
    for i, fo in enumerate(f for f in order["fulfillment_orders"] if f["status"] == "allocated"):
        _ship_fo(api, fo["fo_id"], f"{tracking}{i}")
    return wait_for_order(
        api, order_id, lambda o: o["workflow"]["status"] == "SUCCEEDED" and o["payment_status"] == "captured"
    )


def _stock(api: Api, location_id: str, sku: str) -> dict[str, Any]:
    response = api.get("/v1/availability", params={"sku": [sku], "location_id": location_id})
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    (loc,) = [x for x in item["locations"] if x["location_id"] == location_id]
    return dict(loc)


def _line(order: dict[str, Any], sku: str) -> dict[str, Any]:
    (line,) = [x for x in order["lines"] if x["sku"] == sku]
    return line


@pytest.fixture(scope="module")
def network(api: Api) -> Api:
    put_location(api, "wh-east", lat=52.45, lon=13.52)
    put_location(api, "wh-west", lat=51.51, lon=7.47)
    put_location(api, "wh-central", lat=50.11, lon=8.68)
    for sku in ("CX-CAN-A", "CX-CAN-B", "CX-CAN-C"):
        put_stock(api, "wh-central", sku, 50)
    put_stock(api, "wh-west", "CX-RET", 40)
    put_stock(api, "wh-east", "CX-SHIRT-M", 10)
    put_stock(api, "wh-east", "CX-SHIRT-L", 10)
    return api


def test_cancelling_one_line_before_shipment_releases_exactly_its_value(network: Api) -> None:
    api = network
    order = _place(
        api,
        "CX-CANCEL-1",
        [
            {"sku": "CX-CAN-A", "quantity": 2, "unit_price": 1999, "tax": 760},
            {"sku": "CX-CAN-B", "quantity": 1, "unit_price": 4999, "tax": 950},
            {"sku": "CX-CAN-C", "quantity": 3, "unit_price": 1250, "tax": 713},
        ],
        promotion=1000,
    )
    order_id = order["order_id"]
    # Subtotals: A 2 x 19.99 = 3998, B 4999, C 3 x 12.50 = 3750; sum 12747.
    # Promotion 1000 by largest remainder over [3998, 4999, 3750]:
    #   floors 313 (rem 8189), 392 (rem 2176), 294 (rem 2382) = 999; the 1 left goes to A -> [314, 392, 294].
    # Post-promotion nets [3684, 4607, 3456] (sum 11747); shipping 495 by largest remainder:
    #   floors 155 (rem 2795), 194 (rem 1547), 145 (rem 7405) = 494; the 1 left goes to C -> [155, 194, 146].
    # Order total 12747 - 1000 + (760 + 950 + 713) + 495 = 14665.
    # Line C is worth 3750 - 294 + 713 + 146 = 4315 (shipping is refunded on cancel by default).
    original_total = 14665
    line_c_value = 4315
    assert order["totals"]["total"] == original_total
    ready = _ready_to_ship(api, order_id)
    line_c = _line(ready, "CX-CAN-C")
    assert (line_c["discount"], line_c["shipping"]) == (294, 146)
    assert ready["payment_summary"]["authorized"] == original_total
    assert _stock(api, "wh-central", "CX-CAN-C")["reserved"] == 3
    body = {"lines": [{"line_id": line_c["line_id"], "quantity": 3}], "reason": "customer asked"}

    preview = api.post(f"/v1/orders/{order_id}/cancel?preview=true", body)
    assert preview.status_code == 200, preview.text
    assert preview.json()["preview"] is True
    assert preview.json()["totals"]["total"] == -line_c_value
    assert preview.json()["release"]["amount"] == line_c_value
    after_preview = get_order(api, order_id)
    assert [x["quantities"] for x in after_preview["lines"]] == [x["quantities"] for x in ready["lines"]]
    assert after_preview["payment_summary"] == ready["payment_summary"]
    assert after_preview["changes"] == []
    assert _stock(api, "wh-central", "CX-CAN-C")["reserved"] == 3

    headers = {"Idempotency-Key": "cx-cancel-1-line-c"}
    submitted = api.post(f"/v1/orders/{order_id}/cancel", body, headers=headers)
    assert submitted.status_code == 201, submitted.text
    change = submitted.json()
    assert change["kind"] == "cancel"
    assert change["totals"]["total"] == -line_c_value
    assert (change["release"]["amount"], change["refund"]["amount"]) == (line_c_value, 0)
    (change_line,) = change["lines"]
    assert (change_line["subtotal"], change_line["discount"], change_line["tax"], change_line["shipping"]) == (
        -3750,
        -294,
        -713,
        -146,
    )
    replay = api.post(f"/v1/orders/{order_id}/cancel", body, headers=headers)
    assert replay.status_code == 201, replay.text
    assert replay.json() == change

    cancelled = get_order(api, order_id)
    assert len(cancelled["changes"]) == 1  # the replay wrote nothing
    line_c = _line(cancelled, "CX-CAN-C")
    assert line_c["status"] == "cancelled"
    assert line_c["quantities"]["cancelled"] == 3
    assert cancelled["current_totals"]["total"] == original_total - line_c_value == 10350
    summary = cancelled["payment_summary"]
    assert summary["available_to_capture"] == original_total - line_c_value
    assert summary["amount_due"] == original_total - line_c_value
    (payment,) = cancelled["payments"]
    assert payment["released"] == line_c_value
    stock = _stock(api, "wh-central", "CX-CAN-C")
    assert (stock["on_hand"], stock["reserved"]) == (50, 0)

    (fo,) = [f for f in cancelled["fulfillment_orders"] if f["status"] == "allocated"]
    _ship_fo(api, fo["fo_id"], "CXCANCEL1")
    done = wait_for_order(api, order_id, lambda o: o["workflow"]["status"] == "SUCCEEDED")
    assert done["status"] == "completed"
    assert done["payment_summary"]["captured"] == done["current_totals"]["total"] == 10350
    assert sum(i["amount"] for i in done["invoices"]) == 10350
    assert done["payment_summary"]["balance"] == 0
    assert _stock(api, "wh-central", "CX-CAN-C")["on_hand"] == 50

    line_a = _line(done, "CX-CAN-A")
    shipped_line = api.post(
        f"/v1/orders/{order_id}/cancel", {"lines": [{"line_id": line_a["line_id"], "quantity": 1}], "reason": "late"}
    )
    assert shipped_line.status_code == 409, shipped_line.text
    assert shipped_line.headers["content-type"].startswith("application/problem+json")


def test_returning_two_of_three_shipped_units_refunds_them_less_the_restocking_fee(network: Api) -> None:
    api = network
    order = _place(
        api, "CX-RETURN-1", [{"sku": "CX-RET", "quantity": 3, "unit_price": 2999, "tax": 1710}], promotion=600
    )
    order_id = order["order_id"]
    # One line: subtotal 8997, promotion 600, tax 1710, shipping 495; total 10602.
    assert order["totals"]["total"] == 10602
    shipped = _ship_everything(api, order_id, "CXRETURN1")
    assert shipped["payment_summary"]["captured"] == 10602
    line = _line(shipped, "CX-RET")
    assert line["quantities"]["shipped"] == 3
    on_hand_before = _stock(api, "wh-west", "CX-RET")["on_hand"]
    assert on_hand_before == 37

    # Returned units are the line's front positions [0, 2): cum(n) = amount * n // 3.
    #   subtotal 8997 * 2 // 3 = 5998, discount 600 * 2 // 3 = 400, tax 1710 * 2 // 3 = 1140,
    #   shipping 495 * 2 // 3 = 330, kept (changed_mind is not the seller's fault).
    # Restocking fee for changed_mind: 1000 bp of 5998 = 599 (rounded down).
    # Refund = 5998 - 400 + 1140 - 599 = 6139.
    expected = 6139
    body = {"lines": [{"line_id": line["line_id"], "quantity": 2, "reason": "changed_mind"}]}
    preview = api.post(f"/v1/orders/{order_id}/returns?preview=true", body)
    assert preview.status_code == 200, preview.text
    assert preview.json()["expected_refund"] == expected
    unchanged = get_order(api, order_id)
    assert unchanged["returns"] == [] and unchanged["changes"] == []
    assert _line(unchanged, "CX-RET")["quantities"] == line["quantities"]

    created = api.post(f"/v1/orders/{order_id}/returns", body, headers={"Idempotency-Key": "cx-return-1"})
    assert created.status_code == 201, created.text
    rma = created.json()
    assert rma["status"] == "authorized"
    assert rma["expected_refund"] == expected
    return_id = rma["return_id"]
    assert _line(get_order(api, order_id), "CX-RET")["quantities"]["return_initiated"] == 2

    too_many = api.post(
        f"/v1/orders/{order_id}/returns",
        {"lines": [{"line_id": line["line_id"], "quantity": 2, "reason": "changed_mind"}]},
    )
    assert too_many.status_code == 409, too_many.text

    receipt = {
        "location_id": "wh-west",
        "lines": [
            {"line_id": line["line_id"], "quantity": 1, "condition": "resellable"},
            {"line_id": line["line_id"], "quantity": 1, "condition": "damaged"},
        ],
    }
    received = api.post(f"/v1/returns/{return_id}/receive", receipt, key=WMS)
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "received"

    settled = wait_for_order(api, order_id, lambda o: o["returns"][0]["status"] == "closed" and o["credit_memos"])
    (ret,) = settled["returns"]
    assert ret["refunded"] == expected
    (memo,) = settled["credit_memos"]
    assert memo["amount"] == expected
    assert memo["status"] == "issued"
    (change,) = [c for c in settled["changes"] if c["kind"] == "return"]
    assert change["refund"]["amount"] == expected
    assert change["totals"]["fees"] == 599
    assert settled["current_totals"]["total"] == 10602 - expected
    summary = settled["payment_summary"]
    assert summary["refunded"] == sum(m["amount"] for m in settled["credit_memos"]) == expected
    assert summary["refunded"] <= summary["captured"] == 10602
    assert summary["balance"] == 0
    returned_line = _line(settled, "CX-RET")
    assert returned_line["quantities"]["returned"] == 2
    assert returned_line["quantities"]["return_initiated"] == 0
    # Only the resellable unit is back on hand.
    assert _stock(api, "wh-west", "CX-RET")["on_hand"] == on_hand_before + 1
    fetched = api.get(f"/v1/returns/{return_id}", key=OPS)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["refunded"] == expected


def test_an_exchange_for_another_size_ships_the_new_size_and_moves_no_money(network: Api) -> None:
    api = network
    order = _place(api, "CX-EXCHANGE-1", [{"sku": "CX-SHIRT-M", "quantity": 1, "unit_price": 2500, "tax": 475}])
    order_id = order["order_id"]
    # 2500 + 475 tax + 495 shipping = 3470.
    assert order["totals"]["total"] == 3470
    shipped = _ship_everything(api, order_id, "CXEXCH1")
    assert shipped["payment_summary"]["captured"] == 3470
    shirt_m = _line(shipped, "CX-SHIRT-M")
    on_hand_l = _stock(api, "wh-east", "CX-SHIRT-L")["on_hand"]

    # The returned unit is worth 2500 + 475 = 2975 (shipping kept, no restocking fee on an
    # exchange); the L shirt is priced at that worth and paid by it: nothing is refunded.
    body = {
        "lines": [{"line_id": shirt_m["line_id"], "quantity": 1, "reason": "wrong_size"}],
        "exchange": [{"sku": "CX-SHIRT-L", "quantity": 1}],
    }
    created = api.post(f"/v1/orders/{order_id}/returns", body)
    assert created.status_code == 201, created.text
    rma = created.json()
    assert rma["expected_refund"] == 0
    (replacement,) = rma["exchange"]
    assert replacement["sku"] == "CX-SHIRT-L"

    received = api.post(
        f"/v1/returns/{rma['return_id']}/receive",
        {
            "location_id": "wh-east",
            "lines": [{"line_id": shirt_m["line_id"], "quantity": 1, "condition": "resellable"}],
        },
        key=WMS,
    )
    assert received.status_code == 200, received.text

    waiting = wait_for_order(
        api,
        order_id,
        lambda o: any(
            f["status"] == "allocated" and any(x["line_id"] == replacement["line_id"] for x in f["lines"])
            for f in o["fulfillment_orders"]
        ),
    )
    (fo,) = [f for f in waiting["fulfillment_orders"] if f["status"] == "allocated"]
    assert fo["location_id"] == "wh-east"
    _ship_fo(api, fo["fo_id"], "CXEXCH1L")
    done = wait_for_order(
        api,
        order_id,
        lambda o: (
            _line(o, "CX-SHIRT-L")["quantities"]["shipped"] == 1
            and o["returns"][0]["status"] == "closed"
            and all(s.get("capture_status") != "pending" for s in o["shipments"])
        ),
    )
    shirt_l = _line(done, "CX-SHIRT-L")
    assert shirt_l["line_id"] == replacement["line_id"]
    assert shirt_l["status"] == "shipped"
    assert (shirt_l["subtotal"], shirt_l["tax"], shirt_l["discount"], shirt_l["total"]) == (2500, 475, 2975, 0)
    assert _line(done, "CX-SHIRT-M")["quantities"]["returned"] == 1
    summary = done["payment_summary"]
    assert summary["captured"] == 3470
    assert sum(i["amount"] for i in done["invoices"]) == 3470
    assert summary["refunded"] == summary["refund_pending"] == 0
    assert sum(m["amount"] for m in done["credit_memos"]) == 0
    assert done["returns"][0]["refunded"] == 0
    assert done["current_totals"]["total"] == 3470
    assert summary["balance"] == 0
    assert len(done["shipments"]) == 2
    # M went back on hand at wh-east; L left it.
    assert _stock(api, "wh-east", "CX-SHIRT-L")["on_hand"] == on_hand_l - 1
    assert _stock(api, "wh-east", "CX-SHIRT-M")["on_hand"] == 10
