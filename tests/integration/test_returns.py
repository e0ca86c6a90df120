"""Returns and exchanges on moto: the real OrderLifecycle ships, the ReturnLifecycle refunds."""

from __future__ import annotations

from functions.changes.api import order_figures
from functions.fulfill.handlers.api import handler as fulfillment_handler
from functions.inventory.store import get_stock
from functions.returns.handlers.api import handler as returns_handler
from shared.order.record import load_order
from tests.integration.conftest import api_event, call, stock_up
from tests.integration.test_cancel_and_adjust import (
    LOCATION,
    capture,
    line_id,
    order_body,
    released_to_fulfillment,
    wait_for,
)


def ship_everything(order_id):
    record = released_to_fulfillment(order_id)
    for fo in record.others["FO"]:
        path = f"/v1/fulfillment-orders/{fo['fo_id']}/ship"
        event = api_event(
            "POST",
            path,
            resource="/v1/fulfillment-orders/{fo_id}/ship",
            body={"carrier": "dhl", "tracking_number": f"TRK{fo['fo_id'][-8:]}"},
            key="dev-wms-key",
            path_parameters={"fo_id": fo["fo_id"]},
        )
        status, _, shipment = call(fulfillment_handler, event)
        assert status == 201, shipment

    def captured():
        r = load_order(order_id)
        shipped = all(
            line["quantities"].get("shipped", 0) == line["quantity"] for line in r.lines if not line.get("change_id")
        )
        return r if shipped and r.others.get("INV") else None

    return wait_for(captured)


def post_return(order_id, body, key="dev-web-key", preview=False):
    event = api_event(
        "POST",
        f"/v1/orders/{order_id}/returns",
        resource="/v1/orders/{order_id}/returns",
        body=body,
        key=key,
        query={"preview": "true"} if preview else None,
        path_parameters={"order_id": order_id},
    )
    return call(returns_handler, event)


def receive(return_id, lines, key="dev-wms-key", location_id=LOCATION):
    event = api_event(
        "POST",
        f"/v1/returns/{return_id}/receive",
        resource="/v1/returns/{return_id}/receive",
        body={"location_id": location_id, "lines": lines},
        key=key,
        path_parameters={"return_id": return_id},
    )
    return call(returns_handler, event)


def get_return(return_id, key="dev-agent-key"):
    event = api_event(
        "GET",
        f"/v1/returns/{return_id}",
        resource="/v1/returns/{return_id}",
        key=key,
        path_parameters={"return_id": return_id},
    )
    return call(returns_handler, event)


def refunded_to(return_id, amount):
    def done():
        status, _, ret = get_return(return_id)
        return (
            ret if status == 200 and ret["refunded"] == amount and all(r["settled"] for r in ret["receipts"]) else None
        )

    return wait_for(done)


def parked(order_id, return_id):
    """The return's execution waits for the goods (they arrive days later, not at once)."""
    return wait_for(
        lambda: any(
            r.get("task_token") for r in load_order(order_id).others.get("RET", []) if r["return_id"] == return_id
        )
    )


BOOTS = [{"sku": "BOOTS-42", "quantity": 3, "unit_price": 5000, "tax": 1500}]


def test_return_two_of_three_units_one_resellable_one_damaged(aws):
    stock_up({"BOOTS-42": 10}, location_id=LOCATION)
    order = capture(order_body("RET-1", lines=BOOTS, promotions=[{"code": "SPRING", "amount": 600}], shipping=900))
    record = ship_everything(order["order_id"])
    boots = line_id(record, "BOOTS-42")
    assert get_stock("BOOTS-42", LOCATION).on_hand == 7
    body = {"lines": [{"line_id": boots, "quantity": 2, "reason": "changed_mind"}]}

    # Two units are the front positions 0 and 1 of a line of 3:
    #   subtotal 10000, discount 600*2//3 = 400, tax 1500*2//3 = 1000, shipping kept (changed mind),
    #   restocking fee 10% of 10000 = 1000 -> 10000 - 400 + 1000 - 1000 = 9600
    status, _, preview = post_return(order["order_id"], body, preview=True)
    assert status == 200 and preview["expected_refund"] == 9600, preview
    assert "RET" not in load_order(order["order_id"]).others

    status, _, rma = post_return(order["order_id"], body)
    assert status == 201, rma
    assert rma["return_id"].startswith("ret_") and rma["status"] == "authorized"
    assert rma["expected_refund"] == 9600
    line = next(x for x in load_order(order["order_id"]).lines if x["line_id"] == boots)
    assert line["quantities"]["return_initiated"] == 2
    # Only one shipped unit is left to return.
    status, _, problem = post_return(order["order_id"], {"lines": [{"line_id": boots, "quantity": 2, "reason": "x"}]})
    assert status == 409, problem

    parked(order["order_id"], rma["return_id"])
    # A warehouse bound to other locations may not receive here; more than expected is a conflict.
    assert (
        receive(
            rma["return_id"], [{"line_id": boots, "quantity": 1, "condition": "resellable"}], location_id="wh-berlin"
        )[0]
        == 403
    )
    assert receive(rma["return_id"], [{"line_id": boots, "quantity": 3, "condition": "resellable"}])[0] == 409

    # Unit 0 arrives resellable: 5000 - 200 + 500 - 500 fee = 4800, and it is back in stock.
    status, _, ret = receive(rma["return_id"], [{"line_id": boots, "quantity": 1, "condition": "resellable"}])
    assert status == 200 and ret["status"] == "partially_received", ret
    assert get_stock("BOOTS-42", LOCATION).on_hand == 8
    ret = refunded_to(rma["return_id"], 4800)

    # Unit 1 arrives damaged: refunded the same, not restocked.
    status, _, ret = receive(rma["return_id"], [{"line_id": boots, "quantity": 1, "condition": "damaged"}])
    assert status == 200 and ret["status"] == "received", ret
    ret = refunded_to(rma["return_id"], 9600)
    assert wait_for(lambda: get_return(rma["return_id"])[2]["status"] == "closed")
    # Stock conserved: 10 on hand - 3 shipped + 1 resellable returned.
    stock = get_stock("BOOTS-42", LOCATION)
    assert (stock.on_hand, stock.reserved) == (8, 0)

    after = load_order(order["order_id"])
    line = next(x for x in after.lines if x["line_id"] == boots)
    assert (line["quantities"]["returned"], line["quantities"]["return_initiated"]) == (2, 0)
    returns = [c for c in after.others["CHG"] if c["kind"] == "return"]
    assert sorted(c["refund"]["amount"] for c in returns) == [4800, 4800]
    assert sorted(c["totals"]["fees"] for c in returns) == [500, 500]
    memos = after.others["CM"]
    assert sorted(m["amount"] for m in memos) == [4800, 4800]
    assert {m["change_id"] for m in memos} == {c["change_id"] for c in returns}
    captured = sum(p["captured"] for p in after.others["PAY"])
    refunded = sum(p["refunded"] + p["refund_pending"] for p in after.others["PAY"])
    assert refunded == 9600 <= captured
    assert order_figures(after)["total"] == order["totals"]["total"] - 9600


def test_an_exchange_for_another_size_moves_no_money_and_ships_on_receipt(aws):
    stock_up({"SHIRT-M": 5, "SHIRT-L": 5}, location_id=LOCATION)
    lines = [{"sku": "SHIRT-M", "quantity": 1, "unit_price": 2999, "tax": 570}]
    order = capture(order_body("EXCH-1", lines=lines, promotions=[], shipping=499))
    record = ship_everything(order["order_id"])
    shirt = line_id(record, "SHIRT-M")
    body = {
        "lines": [{"line_id": shirt, "quantity": 1, "reason": "too_small"}],
        "exchange": [{"sku": "SHIRT-L", "quantity": 1}],
    }
    status, _, rma = post_return(order["order_id"], body)
    assert status == 201, rma
    # The replacement is worth what the returned shirt was (2999 + 570): the return pays for it.
    assert rma["expected_refund"] == 0
    new_line = next(x for x in load_order(order["order_id"]).lines if x["sku"] == "SHIRT-L")
    assert new_line["change_id"] == rma["exchange_change_id"]
    assert (new_line["subtotal"], new_line["discount"], new_line["tax"], new_line["total"]) == (2999, 3569, 570, 0)
    assert get_stock("SHIRT-L", LOCATION).reserved == 0  # ships on receipt, not before

    parked(order["order_id"], rma["return_id"])
    status, _, ret = receive(rma["return_id"], [{"line_id": shirt, "quantity": 1, "condition": "resellable"}])
    assert status == 200, ret
    ret = refunded_to(rma["return_id"], 0)
    # The exchange runs through its own OrderLifecycle: reserved, released to the location.
    after = wait_for(
        lambda: (
            (r := load_order(order["order_id"]))
            and any(line["line_id"] == new_line["line_id"] for fo in r.others.get("FO", []) for line in fo["lines"])
            and r
        )
    )
    assert get_stock("SHIRT-L", LOCATION).reserved == 1
    assert get_stock("SHIRT-M", LOCATION).on_hand == 5  # shipped and back
    assert not after.others.get("CM")  # no money moved
    kinds = sorted(c["kind"] for c in after.others["CHG"])
    assert kinds == ["exchange", "return"]
    assert order_figures(after)["total"] == order["totals"]["total"]


def test_return_refusals_and_reads(aws):
    stock_up({"BOOTS-42": 10}, location_id=LOCATION)
    order = capture(order_body("RET-BAD", lines=BOOTS, promotions=[], shipping=0))
    record = released_to_fulfillment(order["order_id"])
    boots = line_id(record, "BOOTS-42")
    # Nothing shipped yet: nothing to return.
    assert post_return(order["order_id"], {"lines": [{"line_id": boots, "quantity": 1, "reason": "x"}]})[0] == 409
    assert post_return(order["order_id"], {"lines": [{"line_id": "ln_x", "quantity": 1, "reason": "x"}]})[0] == 422
    assert post_return(order["order_id"], {"lines": []})[0] == 422
    assert (
        post_return(
            order["order_id"], {"lines": [{"line_id": boots, "quantity": 1, "reason": "x"}]}, key="dev-pos-key"
        )[0]
        == 404
    )
    assert get_return("ret_missing")[0] == 404
