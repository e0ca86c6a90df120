"""Cancels and appeasements on moto, with the real OrderLifecycle running the order."""

from __future__ import annotations

import time

from functions.capture.handlers.api import handler as capture_handler
from functions.changes.handlers.api import handler as changes_handler
from functions.changes.rules.figures import order_figures
from functions.fulfill.store import parked_token
from functions.inventory.store import get_stock
from shared.order.record import load_order
from shared.table import Table
from tests.integration.conftest import api_event, call, stock_up

LOCATION = "wh-east"

# Three lines and a promotion; the shares below are worked out by hand.
#   nets after line discounts: A 2x1999-100 = 3898, B 4999, C 3x1000 = 3000 (sum 11897)
#   promotion 1000 by largest remainder: A 327.64, B 420.19, C 252.16 -> 327/420/252 + 1 to A
#     -> A 328, B 420, C 252
#   shipping 600 over 3570/4579/2748 (sum 10897): A 196.56, B 252.13, C 151.31 -> +1 to A
#     -> A 197, B 252, C 151
#   order: subtotal 11997, discount 1100, tax 1820, shipping 600, total 13317
#   line B is worth 4999 - 420 + 950 + 252 = 5781
THREE_LINES = [
    {"sku": "SHIRT-A", "quantity": 2, "unit_price": 1999, "discount": 100, "tax": 300},
    {"sku": "SHOES-B", "quantity": 1, "unit_price": 4999, "tax": 950},
    {"sku": "SOCKS-C", "quantity": 3, "unit_price": 1000, "tax": 570},
]


def order_body(external_id: str, lines=None, promotions=None, shipping=600):
    return {
        "channel": "web",
        "external_id": external_id,
        "customer": {"email": "grace@example.com", "name": "Grace Hopper"},
        "currency": "EUR",
        "lines": lines or THREE_LINES,
        "shipping": {
            "address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"},
            "method": "standard",
            "amount": shipping,
        },
        "promotions": [{"code": "WELCOME10", "amount": 1000}] if promotions is None else promotions,
        "payment": {"provider": "sandbox", "token": "tok_approve"},
    }


def capture(body):
    status, _, order = call(capture_handler, api_event("POST", "/v1/orders", resource="/v1/orders", body=body))
    assert status == 201, order
    return order


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def released_to_fulfillment(order_id):
    """The order once it is authorized and waiting on its fulfillment orders."""

    def ready():
        record = load_order(order_id)
        fos = record.others.get("FO", []) if record else []
        waiting = fos and all(parked_token(fo) for fo in fos)
        authorized = any(p["status"] == "authorized" for p in record.others.get("PAY", [])) if record else False
        return record if waiting and authorized else None

    return wait_for(ready)


def post_change(order_id, action, body, key="dev-web-key", preview=False, headers=None):
    path = f"/v1/orders/{order_id}/{action}"
    event = api_event(
        "POST",
        path,
        resource=f"/v1/orders/{{order_id}}/{action}",
        body=body,
        key=key,
        query={"preview": "true"} if preview else None,
        path_parameters={"order_id": order_id},
        headers=headers,
    )
    return call(changes_handler, event)


def line_id(record, sku):
    return next(line["line_id"] for line in record.lines if line["sku"] == sku)


def test_cancel_one_line_of_three_with_a_promotion_releases_its_worth_to_the_cent(aws):
    stock_up({"SHIRT-A": 10, "SHOES-B": 10, "SOCKS-C": 10}, location_id=LOCATION)
    order = capture(order_body("CANCEL-1"))
    assert order["totals"] == {"subtotal": 11997, "discount": 1100, "tax": 1820, "shipping": 600, "total": 13317}
    record = released_to_fulfillment(order["order_id"])
    shoes = line_id(record, "SHOES-B")
    body = {"lines": [{"line_id": shoes, "quantity": 1}], "reason": "customer changed mind"}

    status, _, preview = post_change(order["order_id"], "cancel", body, preview=True)
    assert status == 200, preview
    assert preview["totals"] == {
        "subtotal": -4999,
        "discount": -420,
        "tax": -950,
        "shipping": -252,
        "fees": 0,
        "credit": 0,
        "total": -5781,
    }
    assert preview["release"] == {"amount": 5781} and preview["refund"] == {"amount": 0}
    assert "CHG" not in load_order(order["order_id"]).others  # a preview writes nothing

    status, _, change = post_change(order["order_id"], "cancel", body, headers={"Idempotency-Key": "c-1"})
    assert status == 201, change
    assert change["change_id"].startswith("chg_") and change["kind"] == "cancel"
    assert change["totals"]["total"] == -5781 and change["release"] == {"amount": 5781}
    again = post_change(order["order_id"], "cancel", body, headers={"Idempotency-Key": "c-1"})
    assert again[0] == 201 and again[2]["change_id"] == change["change_id"]  # a replay

    after = load_order(order["order_id"])
    assert order_figures(after)["total"] == 13317 - 5781 == 7536
    assert after.header["totals"]["total"] == 13317  # the original is never edited
    shoes_line = next(line for line in after.lines if line["line_id"] == shoes)
    assert shoes_line["quantities"]["cancelled"] == 1 and shoes_line["quantities"]["allocated"] == 0
    assert after.header["status"] == "open"
    payment = after.others["PAY"][0]
    assert payment["released"] == 5781
    stock = get_stock("SHOES-B", LOCATION)
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 0, 10)
    fo_lines = [line for fo in after.others["FO"] for line in fo["lines"] if line["line_id"] == shoes]
    assert sum(int(line.get("cancelled", 0)) for line in fo_lines) == 1
    events = Table().query_all(
        "pk = :pk AND begins_with(sk, :e)", {":pk": f"ORDER#{order['order_id']}", ":e": "EVENT#"}
    )
    assert "order.lines_cancelled" in [e["kind"] for e in events]

    # The same units again: nothing left to cancel.
    status, _, problem = post_change(order["order_id"], "cancel", body)
    assert status == 409, problem


def test_cancel_everything_not_shipped_cancels_the_order(aws):
    stock_up({"SHIRT-A": 10, "SHOES-B": 10, "SOCKS-C": 10}, location_id=LOCATION)
    order = capture(order_body("CANCEL-ALL"))
    released_to_fulfillment(order["order_id"])
    status, _, change = post_change(order["order_id"], "cancel", {"reason": "fraud suspected"}, key="dev-agent-key")
    assert status == 201, change
    assert change["totals"]["total"] == -13317
    record = load_order(order["order_id"])
    # Nothing was captured: all that was authorized is released, the authorization voided.
    assert change["release"]["amount"] == record.others["PAY"][0]["authorized"] > 0
    assert record.header["status"] == "cancelled"
    assert order_figures(record)["total"] == 0
    assert {get_stock(sku, LOCATION).reserved for sku in ("SHIRT-A", "SHOES-B", "SOCKS-C")} == {0}
    assert record.others["PAY"][0]["status"] == "voided"


def test_cancel_refuses_bad_requests_with_problems(aws):
    stock_up({"SHIRT-A": 10, "SHOES-B": 10, "SOCKS-C": 10}, location_id=LOCATION)
    order = capture(order_body("CANCEL-BAD"))
    record = released_to_fulfillment(order["order_id"])
    shirt = line_id(record, "SHIRT-A")
    too_many = {"lines": [{"line_id": shirt, "quantity": 3}], "reason": "x"}
    assert post_change(order["order_id"], "cancel", too_many)[0] == 409
    unknown = {"lines": [{"line_id": "ln_nope", "quantity": 1}], "reason": "x"}
    assert post_change(order["order_id"], "cancel", unknown)[0] == 422
    assert post_change(order["order_id"], "cancel", {"lines": [], "reason": "x"})[0] == 422
    assert post_change(order["order_id"], "cancel", {"reason": "x"}, key="dev-pos-key")[0] == 404
    assert post_change(order["order_id"], "cancel", {"reason": "x"}, key="dev-wms-key")[0] == 403
    assert post_change("ord_missing", "cancel", {"reason": "x"})[0] == 404
    assert post_change(order["order_id"], "cancel", "[1]")[0] in (400, 422)
    assert load_order(order["order_id"]).others.get("CHG") is None


def test_an_appeasement_is_never_more_than_is_refundable(aws):
    stock_up({"SHIRT-A": 10, "SHOES-B": 10, "SOCKS-C": 10}, location_id=LOCATION)
    order = capture(order_body("APPEASE-1"))
    released_to_fulfillment(order["order_id"])
    body = {"amount": 500, "reason": "late delivery"}
    # Nothing captured yet: nothing to refund.
    status, _, problem = post_change(order["order_id"], "adjustments", body, key="dev-agent-key")
    assert status == 409 and problem["available_to_refund"] == 0
    # Channels may not appease.
    assert post_change(order["order_id"], "adjustments", body)[0] == 403
