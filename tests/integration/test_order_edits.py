"""Order edits on moto: the steps of the lifecycle are driven by the test, so the order is
authorized and not yet released (as an order on hold is) exactly when the edit comes.

Figures are worked out by hand from the order of test_capture_api.order_body:
  TSHIRT-M 2 x 1999, line discount 100, tax 300; JEANS-32 1 x 4999, tax 950;
  promotion 1000 -> TSHIRT 438, JEANS 562 (discounts 538 and 562);
  shipping 499 over 3460 and 4437 -> TSHIRT 219, JEANS 280; order total 9646.
"""

from __future__ import annotations

from typing import Any

import pytest

from functions.allocate.logic.allocation import allocate_order
from functions.changes.handlers.api import handler as changes_handler
from functions.changes.logic.edit_plan import charge_of
from functions.changes.rules.figures import order_figures
from functions.fulfill.logic.release import release_to_fulfillment
from functions.inventory.store import get_stock
from functions.payments.logic.authorize import authorize_order
from functions.payments.rules.ledger import open_amount
from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord, load_order
from shared.table import Table
from tests.integration.conftest import api_event, call, stock_up
from tests.integration.test_capture_api import order_body, post

LOCATION = "wh-berlin"


@pytest.fixture
def steps(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders are captured without their execution: the tests run its steps."""
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")


def authorized_order(external_id: str, **body: Any) -> tuple[str, OrderRecord]:
    """Captured, allocated and authorized; not released to a warehouse."""
    status, _, order = post(order_body(external_id, **body))
    assert status == 201, order
    assert allocate_order(order["order_id"]).backordered_units == 0
    authorize_order(order["order_id"])
    record = load_order(order["order_id"])
    assert record is not None
    return order["order_id"], record


def edit(order_id: str, body: Any, *, preview: bool = False, key: str = "dev-web-key", idem: str | None = None):
    event = api_event(
        "POST",
        f"/v1/orders/{order_id}/edits",
        resource="/v1/orders/{order_id}/edits",
        body=body,
        key=key,
        query={"preview": "true"} if preview else None,
        path_parameters={"order_id": order_id},
        headers={"Idempotency-Key": idem} if idem else None,
    )
    return call(changes_handler, event)


def line_of(record: OrderRecord, sku: str) -> dict[str, Any]:
    return next(line for line in record.lines if line["sku"] == sku)


def open_authorized(record: OrderRecord) -> int:
    return sum(open_amount(p) for p in record.others.get("PAY", []))


def reserved(sku: str) -> int:
    stock = get_stock(sku, LOCATION)
    return stock.reserved if stock else 0


def events(order_id: str) -> list[dict[str, Any]]:
    return Table().query_all("pk = :pk AND begins_with(sk, :e)", {":pk": f"ORDER#{order_id}", ":e": "EVENT#"})


def test_an_edit_that_raises_the_total_authorizes_the_difference(steps):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10, "SOCKS-5": 10})
    order_id, record = authorized_order("EDIT-UP")
    assert order_figures(record)["total"] == 9646 == open_authorized(record)
    shirt = line_of(record, "TSHIRT-M")["line_id"]
    body = {
        "lines": [{"line_id": shirt, "quantity": 3}],
        "add": [{"sku": "SOCKS-5", "quantity": 2, "unit_price": 500, "tax": 95}],
        "reason": "customer called",
    }
    # One more shirt at its unit price and tax rate (300 on 3998: 150 on 1999), no promotion
    # or shipping share; two pairs of socks as given: 2149 + 1095.
    status, _, preview = edit(order_id, body, preview=True)
    assert status == 200, preview
    assert preview["totals"] == {
        "subtotal": 2999,
        "discount": 0,
        "tax": 245,
        "shipping": 0,
        "fees": 0,
        "credit": 0,
        "total": 3244,
    }
    assert preview["authorize"] == {"amount": 3244} and preview["release"] == {"amount": 0}
    assert preview["previous_totals"]["total"] == 9646 and preview["current_totals"]["total"] == 12890
    assert preview["payment_difference"] == 3244
    assert "CHG" not in load_order(order_id).others  # a preview writes nothing

    status, _, change = edit(order_id, body, idem="edit-up-1")
    assert status == 201, change
    assert change["kind"] == "edit" and change["change_id"].startswith("chg_")
    again = edit(order_id, body, idem="edit-up-1")
    assert again[0] == 201 and again[2]["change_id"] == change["change_id"]  # a replay

    after = load_order(order_id)
    assert after.header["totals"]["total"] == 9646  # the original is never edited
    assert order_figures(after)["total"] == 12890 == charge_of(after.lines)
    payments = sorted(after.others["PAY"], key=lambda p: p["created_at"])
    assert [p["authorized"] for p in payments] == [9646, 3244]  # the difference, once
    assert payments[1]["change_id"] == change["change_id"] and payments[0]["status"] == "authorized"
    assert open_authorized(after) == 12890
    # The new units were routed at once (the order was never released): stock reserved.
    assert (reserved("TSHIRT-M"), reserved("SOCKS-5")) == (3, 2)
    assert all(LineQuantities.of(line).to_allocate == 0 for line in after.lines)
    edited = [e for e in events(order_id) if e["kind"] == "order.edited"]
    assert len(edited) == 1 and edited[0]["actor"] == "channel-web"
    assert edited[0]["detail"]["actor"] == "channel-web"


def test_an_edit_that_lowers_the_total_releases_exactly_the_difference(steps):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    order_id, record = authorized_order("EDIT-DOWN")
    shirt, jeans = line_of(record, "TSHIRT-M")["line_id"], line_of(record, "JEANS-32")["line_id"]
    body = {"lines": [{"line_id": jeans, "quantity": 0}, {"line_id": shirt, "quantity": 1}], "reason": "fewer"}
    # Jeans whole: 4999 - 562 + 950 + 280 = 5667. The shirt's back unit (positions: 3998 * 2 // 2 -
    # 3998 * 1 // 2 and so on): 1999 - (538 - 269) + (300 - 150) + (219 - 109) = 1990.
    status, _, preview = edit(order_id, body, preview=True)
    assert status == 200, preview
    assert preview["totals"]["total"] == -(5667 + 1990)
    assert preview["release"] == {"amount": 7657} and preview["refund"] == {"amount": 0}
    assert preview["authorize"] == {"amount": 0}

    status, _, change = edit(order_id, body, key="dev-agent-key")
    assert status == 201, change
    after = load_order(order_id)
    assert order_figures(after)["total"] == 9646 - 7657 == 1989 == charge_of(after.lines)
    assert after.others["PAY"][0]["released"] == 7657 and open_authorized(after) == 1989
    # The removed units' stock went back in the edit's own transaction.
    assert (reserved("TSHIRT-M"), reserved("JEANS-32")) == (1, 0)
    assert get_stock("JEANS-32", LOCATION).available == 10
    jeans_q = LineQuantities.of(line_of(after, "JEANS-32"))
    assert (jeans_q.cancelled, jeans_q.allocated) == (1, 0)
    allocations = [a for a in after.others["ALLOC"] if a["line_id"] == jeans]
    assert [a["status"] for a in allocations] == ["released"]


def test_a_swap_releases_the_old_sku_and_reserves_the_new_one(steps):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10, "TSHIRT-L": 1})
    order_id, record = authorized_order("EDIT-SWAP")
    shirt = line_of(record, "TSHIRT-M")["line_id"]
    body = {"swap": [{"line_id": shirt, "sku": "TSHIRT-L"}], "reason": "size"}
    status, _, change = edit(order_id, body)
    assert status == 201, change
    # The two M shirts leave with their shares (3998 - 538 + 300 + 219 = 3979); two L shirts at
    # the same price and tax rate come in (3998 + 300): the total rises by the lost shares' net.
    assert change["totals"]["total"] == 4298 - 3979 == 319
    after = load_order(order_id)
    assert order_figures(after)["total"] == 9646 + 319 == charge_of(after.lines) == open_authorized(after)
    assert reserved("TSHIRT-M") == 0
    # One L shirt in stock: one unit reserved, one backordered (never promised twice).
    assert reserved("TSHIRT-L") == 1 and get_stock("TSHIRT-L", LOCATION).available == 0
    new_line = line_of(after, "TSHIRT-L")
    assert new_line["edit_of"] == shirt and LineQuantities.of(new_line).to_allocate == 1


def test_edits_of_units_released_to_a_warehouse_are_409_naming_them(steps):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    order_id, record = authorized_order("EDIT-RELEASED")
    release_to_fulfillment(order_id)
    jeans = line_of(record, "JEANS-32")["line_id"]
    status, _, problem = edit(order_id, {"lines": [{"line_id": jeans, "quantity": 0}], "reason": "x"})
    assert status == 409, problem
    assert problem["released_units"] == [{"line_id": jeans, "quantity": 1}]
    assert problem["errors"][0]["field"] == "lines[0].quantity"
    address = {"line1": "2 Side St", "city": "Berlin", "postal_code": "10117", "country": "DE"}
    status, _, problem = edit(order_id, {"shipping": {"address": address}, "reason": "moved"})
    assert status == 409 and {u["line_id"] for u in problem["released_units"]} == {
        line["line_id"] for line in record.lines
    }
    swap = {"swap": [{"line_id": jeans, "sku": "JEANS-34"}], "reason": "size"}
    assert edit(order_id, swap)[0] == 409
    assert "CHG" not in load_order(order_id).others
    assert (reserved("TSHIRT-M"), reserved("JEANS-32")) == (2, 1)


def test_a_shipping_change_before_release_moves_no_money(steps):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    order_id, _ = authorized_order("EDIT-SHIP")
    address = {"line1": "2 Side St", "city": "Hamburg", "postal_code": "20095", "country": "DE"}
    body = {"shipping": {"address": address, "method": "express"}, "reason": "moved"}
    status, _, change = edit(order_id, body)
    assert status == 201, change
    assert change["totals"]["total"] == 0 and change["shipping"]["method"] == "express"
    header = load_order(order_id).header
    assert header["shipping"]["address"]["city"] == "Hamburg" and header["shipping"]["amount"] == 499
    assert edit(order_id, {"shipping": {"amount": 999}, "reason": "x"})[0] == 422
    to_store = {"shipping": {"method": "pickup", "pickup_location_id": "store-1"}, "reason": "collect"}
    assert edit(order_id, to_store)[0] == 422  # pickup units are routed to the store: not an edit


def test_bad_edits_are_refused_with_problems(steps):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    order_id, record = authorized_order("EDIT-BAD")
    shirt = line_of(record, "TSHIRT-M")["line_id"]
    assert edit(order_id, {"reason": "nothing"})[0] == 422
    assert edit(order_id, {"lines": [{"line_id": "ln_nope", "quantity": 1}], "reason": "x"})[0] == 422
    twice = {"lines": [{"line_id": shirt, "quantity": 1}], "swap": [{"line_id": shirt, "sku": "X-1"}], "reason": "x"}
    assert edit(order_id, twice)[0] == 422
    assert edit(order_id, {"lines": [{"line_id": shirt, "quantity": 2}], "reason": "same"})[0] == 422
    everything = {"lines": [{"line_id": line["line_id"], "quantity": 0} for line in record.lines], "reason": "x"}
    assert edit(order_id, everything)[0] == 409  # that is a cancellation
    assert edit(order_id, {"lines": [{"line_id": shirt, "quantity": 1}], "reason": "x"}, key="dev-pos-key")[0] == 404
    assert edit(order_id, {"lines": [{"line_id": shirt, "quantity": 1}], "reason": "x"}, key="dev-wms-key")[0] == 403
    assert "CHG" not in load_order(order_id).others


def test_an_edit_racing_the_release_to_a_warehouse_never_frees_stock_a_fulfillment_order_holds(steps, monkeypatch):
    """The warehouse gets the units between the edit's read and its commit: the edit's write
    of the allocation is conditioned on no fulfillment order having taken it, so it plans
    again and answers 409; the stock stays reserved for the fulfillment order."""
    from functions.changes.logic import edit as edit_logic

    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    order_id, record = authorized_order("EDIT-RACE")
    jeans = line_of(record, "JEANS-32")["line_id"]
    planned = edit_logic.plan_edit
    raced: list[bool] = []

    def plan_then_release(*args: Any, **kwargs: Any):
        plan = planned(*args, **kwargs)
        if not raced:
            raced.append(True)
            release_to_fulfillment(order_id)
        return plan

    monkeypatch.setattr(edit_logic, "plan_edit", plan_then_release)
    status, _, problem = edit(order_id, {"lines": [{"line_id": jeans, "quantity": 0}], "reason": "race"})
    assert raced and status == 409, problem
    assert problem["released_units"] == [{"line_id": jeans, "quantity": 1}]
    after = load_order(order_id)
    assert "CHG" not in after.others
    assert reserved("JEANS-32") == 1 and LineQuantities.of(line_of(after, "JEANS-32")).cancelled == 0
    fo_lines = [line for fo in after.others["FO"] for line in fo["lines"] if line["line_id"] == jeans]
    assert sum(int(line["quantity"]) for line in fo_lines) == 1


def test_a_declined_difference_is_recorded_and_becomes_a_process_exception(steps, monkeypatch):
    """The edit is committed first (as a cancellation's money moves after it): a provider that
    declines the difference leaves the open authorization as it was, records the decline and
    hands the order to an operator."""
    from functions.payments.gateways.gateway import PaymentDeclined
    from functions.payments.logic import authorize_more as more

    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    order_id, record = authorized_order("EDIT-DECLINED")
    provider = more.gateway_of(more.load_ledger(order_id))[0]

    class Declining:
        def authorize(self, **_: Any):
            raise PaymentDeclined("declined", reason="insufficient_funds")

    monkeypatch.setattr(more, "gateway_of", lambda snap: (provider, Declining()))
    shirt = line_of(record, "TSHIRT-M")["line_id"]
    status, _, change = edit(order_id, {"lines": [{"line_id": shirt, "quantity": 3}], "reason": "one more"})
    assert status == 201, change
    assert change["authorize"] == {"amount": 2149}
    after = load_order(order_id)
    payments = sorted(after.others["PAY"], key=lambda p: p["created_at"])
    assert [(p["status"], p["authorized"]) for p in payments] == [("authorized", 9646), ("failed", 0)]
    assert payments[1]["change_id"] == change["change_id"]
    assert "payment.additional_declined" in [e["kind"] for e in events(order_id)]
    opened = Table().get(f"OPENEXCEPTION#{order_id}#EditOrder", "OPENEXCEPTION")
    assert opened is not None
