"""Fulfillment orders on moto: release, the WMS API, shipping, rejection, review, the wait."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from functions.allocate.logic.allocation import allocate_order
from functions.allocate.logic.policy import RoutingPolicy, save_policy
from functions.fulfill.handlers import await_fulfillment
from functions.fulfill.handlers.api import handler as api_handler
from functions.fulfill.logic import resume as fulfillment_resume
from functions.fulfill.logic.cancellation import cancel_fulfillment_lines
from functions.fulfill.logic.release import release_to_fulfillment
from functions.fulfill.logic.review import RerouteLimitReached, review_fulfillment
from functions.fulfill.store import find_shipment_by_tracking, find_shipments_by_tracking, fulfillment_orders_of
from functions.inventory.store import get_stock
from functions.lifecycle.logic.advance import advance_order
from functions.lifecycle.logic.settle import settle_fulfillment_order
from functions.lifecycle.rules.steps import FulfillmentContinues, Next, RerouteRejectedUnits
from functions.payments.logic.capture import capture_shipments
from infra.local.runtime import LambdaContext
from shared.errors import RetryableError
from shared.order.record import load_order
from shared.order.timeline import timeline
from tests.integration.conftest import api_event, call, reads_of_partition, stock_up
from tests.integration.test_capture_api import order_body, post

WMS = "dev-wms-key"  # locations wh-east, wh-west, wh-central


@pytest.fixture
def resumed(aws, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Orders are captured without their execution (these tests drive the steps themselves);
    task-token callbacks are recorded instead of sent (a branch with its name)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(token: str, output: dict[str, Any]) -> bool:
        calls.append((token, output))
        return True

    def record_branch(token: str, branch: str, detail: dict[str, Any]) -> bool:
        calls.append((token, {"branch": branch} | detail))
        return True

    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    monkeypatch.setattr(fulfillment_resume, "resume_task", record)
    monkeypatch.setattr(fulfillment_resume, "branch_task", record_branch)
    return calls


def _step(module: Any, event: dict[str, Any]) -> Any:
    return module.handler(event, LambdaContext(function_name="test"))


def _released_order(external_id: str, **body: Any) -> tuple[str, dict[str, Any]]:
    status, _, order = post(order_body(external_id, **body))
    assert status == 201, order
    outcome = allocate_order(order["order_id"])
    assert outcome.backordered_units == 0
    released = release_to_fulfillment(order["order_id"])
    return order["order_id"], released


def _fos(order_id: str) -> dict[str, dict[str, Any]]:
    """The order's fulfillment orders by location."""
    return {fo["location_id"]: fo for fo in fulfillment_orders_of(order_id)}


def _api(method: str, fo_id: str = "", action: str = "", *, key: str = WMS, body: Any = None, **kw: Any):
    path = "/v1/fulfillment-orders" + (f"/{fo_id}" if fo_id else "") + (f"/{action}" if action else "")
    resource = "/v1/fulfillment-orders" + ("/{fo_id}" if fo_id else "") + (f"/{action}" if action else "")
    params = {"fo_id": fo_id} if fo_id else None
    return call(
        api_handler, api_event(method, path, resource=resource, key=key, body=body, path_parameters=params, **kw)
    )


def _lines(order_id: str) -> dict[str, dict[str, Any]]:
    record = load_order(order_id)
    assert record is not None
    return {line["sku"]: line for line in record.lines}


def _events(order_id: str) -> list[str]:
    items, _ = timeline(order_id, limit=200, cursor=None)
    return [e["kind"] for e in items]


def _split_stock() -> None:
    stock_up({"TSHIRT-M": 10}, location_id="wh-east", lat=52.5, lon=13.4)
    stock_up({"JEANS-32": 10}, location_id="wh-west", lat=52.4, lon=13.0)


def test_a_split_allocation_makes_one_fulfillment_order_per_location_and_a_rerun_none(resumed):
    _split_stock()
    order_id, released = _released_order("FO-SPLIT")
    fos = _fos(order_id)
    assert set(fos) == {"wh-east", "wh-west"} and released["created"] == 2
    assert sorted(r["fo_id"] for r in released["open"]) == sorted(fo["fo_id"] for fo in fos.values())
    east = fos["wh-east"]
    assert east["status"] == "allocated" and east["delivery_group"] == "standard"
    assert [(li["sku"], li["quantity"]) for li in east["lines"]] == [("TSHIRT-M", 2)]
    # No unit has moved: the line stores no zero counters, the view shows them.
    assert not {"shipped", "rejected", "cancelled"} & set(east["lines"][0])
    status, _, view = _api("GET", east["fo_id"])
    assert status == 200
    assert [(li["shipped"], li["rejected"], li["cancelled"], li["open"]) for li in view["lines"]] == [(0, 0, 0, 2)]
    record = load_order(order_id)
    assert record is not None
    assert {a["location_id"]: a["fo_id"] for a in record.others["ALLOC"]} == {
        loc: fo["fo_id"] for loc, fo in fos.items()
    }

    again = release_to_fulfillment(order_id)
    assert again["created"] == 0
    assert sorted(again["open"], key=str) == sorted(released["open"], key=str)
    assert len(fulfillment_orders_of(order_id)) == 2
    assert _events(order_id).count("fulfillment.released") == 2


def test_the_release_reads_the_order_once_and_answers_what_it_read_and_made(resumed, monkeypatch):
    """The fulfillment orders waited on come from the order as the release read it and the
    ones it created: no query of the order's fulfillment orders or shipments after."""
    from shared.table import Table

    _split_stock()
    status, _, order = post(order_body("FO-ONE-READ"))
    assert status == 201, order
    assert allocate_order(order["order_id"]).backordered_units == 0
    queries: list[str] = []
    query, steps_thread = Table.query, threading.get_ident()

    def counted(self: Table, key_condition: str, values: dict[str, Any], **kwargs: Any) -> Any:
        if threading.get_ident() == steps_thread:  # not the stream's consumers
            queries.append(key_condition)
        return query(self, key_condition, values, **kwargs)

    monkeypatch.setattr(Table, "query", counted)
    released = release_to_fulfillment(order["order_id"])
    assert queries == ["pk = :pk"]  # the whole order, once
    fos = sorted(fulfillment_orders_of(order["order_id"]), key=lambda fo: (fo["created_at"], fo["fo_id"]))
    assert released == {"open": [{"fo_id": fo["fo_id"]} for fo in fos], "created": 2}

    # The east one ships whole: closed, but its shipment is still to capture, so it is waited on.
    east = _fos(order["order_id"])["wh-east"]["fo_id"]
    for step in ("accept", "pick", "pack"):
        assert _api("POST", east, step)[0] == 200
    assert _api("POST", east, "ship", body={"carrier": "generic", "tracking_number": "ONE-READ"})[0] == 201
    assert _fos(order["order_id"])["wh-east"]["status"] == "fulfilled"
    queries.clear()
    assert release_to_fulfillment(order["order_id"]) == released | {"created": 0}
    assert queries == ["pk = :pk"]


def test_a_wms_key_sees_and_works_only_its_locations(resumed):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-north")
    order_id, _ = _released_order("FO-OTHER")
    fo_id = _fos(order_id)["wh-north"]["fo_id"]

    status, _, problem = _api("GET", fo_id)
    assert status == 404, problem  # another location's work is not even named
    assert _api("POST", fo_id, "accept")[0] == 404
    assert _api("GET", query={"location_id": "wh-north"})[0] == 403
    status, _, page = _api("GET", query={"status": "allocated"})
    assert status == 200 and page["items"] == []
    assert _api("GET", fo_id, key="dev-web-key")[0] == 403
    assert _api("GET", query={"status": "allocated"}, key="dev-web-key")[0] == 403

    status, _, view = _api("GET", fo_id, key="dev-agent-key")
    assert status == 200 and view["location_id"] == "wh-north"
    assert _api("POST", fo_id, "accept", key="dev-agent-key")[0] == 403
    status, _, page = _api("GET", query={"location_id": "wh-north"}, key="dev-ops-key")
    assert status == 200 and [i["fo_id"] for i in page["items"]] == [fo_id]
    assert _api("POST", fo_id, "accept", key="dev-ops-key")[0] == 200


def test_steps_move_in_order_and_a_wrong_one_names_the_current_status(resumed):
    _split_stock()
    order_id, _ = _released_order("FO-STEPS")
    fo_id = _fos(order_id)["wh-east"]["fo_id"]

    status, _, page = _api("GET", query={"location_id": "wh-east", "status": "allocated"})
    assert status == 200 and [i["fo_id"] for i in page["items"]] == [fo_id]
    status, _, problem = _api("POST", fo_id, "pick")
    assert status == 409 and problem["current_status"] == "allocated"
    status, _, first = _api("POST", fo_id, "accept", headers={"Idempotency-Key": "acc-1"})
    assert status == 200 and first["status"] == "accepted" and "accepted_at" in first
    replay = _api("POST", fo_id, "accept", headers={"Idempotency-Key": "acc-1"})
    assert replay[0] == 200 and replay[2] == first
    status, _, problem = _api("POST", fo_id, "accept")
    assert status == 409 and problem["current_status"] == "accepted" and "accepted" in problem["detail"]
    assert _api("POST", fo_id, "pack")[0] == 409
    assert _api("POST", fo_id, "pick")[2]["status"] == "picked"
    assert _api("POST", fo_id, "pack")[2]["status"] == "packed"
    status, _, page = _api("GET", query={"location_id": "wh-east", "status": "packed"})
    assert [i["fo_id"] for i in page["items"]] == [fo_id]
    assert _api("GET", query={"location_id": "wh-east", "status": "allocated"})[2]["items"] == []
    assert _api("GET", query={"status": "packed"}, key="dev-ops-key")[2]["items"][0]["fo_id"] == fo_id
    assert _api("GET", query={"status": "nope"})[0] == 422
    assert _api("GET", key="dev-ops-key")[0] == 422  # neither a location nor a status
    assert "fulfillment.packed" in _events(order_id)


@pytest.mark.parametrize("named", [True, False], ids=["id names its order", "id made before"])
def test_a_warehouse_finds_a_fulfillment_order_by_its_id_alone_or_asks_the_index_once(resumed, monkeypatch, named):
    from functions.fulfill.logic import release
    from shared.ids import new_id
    from shared.table import Table

    if not named:  # fulfillment orders made before ids named their order
        monkeypatch.setattr(release, "child_id", lambda prefix, _parent: new_id(prefix))
    _split_stock()
    order_id, _ = _released_order(f"FO-INDEX-{named}")
    fo = _fos(order_id)["wh-east"]
    fo_id = fo["fo_id"]
    assert (order_id[4:] in fo_id) is named
    assert ("gsi2pk" in fo) is not named  # an index entry only for an id that does not name its order
    lookups: list[str] = []
    query, steps_thread = Table.query, threading.get_ident()

    def counted(self: Table, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == steps_thread and kwargs.get("index") == "gsi2":
            lookups.append(args[1][":pk"])
        return query(self, *args, **kwargs)

    monkeypatch.setattr(Table, "query", counted)
    for step in ("accept", "pick", "pack"):
        assert _api("POST", fo_id, step)[0] == 200
    assert _api("POST", fo_id, "ship", body={"carrier": "generic", "tracking_number": f"IDX-{named}"})[0] == 201
    asked = [] if named else [f"FO#{fo_id}"]  # an environment asks the index once for an old one
    assert lookups == asked
    assert _api("POST", "fo_unknown", "accept")[0] == 404  # an unknown one is asked for every time
    assert _api("POST", "fo_unknown", "accept")[0] == 404
    # An id naming an order that has no such fulfillment order: no index, and 404.
    assert _api("POST", "fo_" + order_id[4:] + "zzzzzz", "accept")[0] == 404
    assert lookups == [*asked, "FO#fo_unknown", "FO#fo_unknown"]


def test_shipping_reads_the_fulfillment_order_with_its_order(resumed, monkeypatch):
    """The order's partition holds its fulfillment orders: the order's query brings the one
    shipped, with no read of it before (the WMS waits on every step)."""
    _split_stock()
    order_id, _ = _released_order("FO-SHIP-READS")
    fo_id = _fos(order_id)["wh-east"]["fo_id"]
    for step in ("accept", "pick", "pack"):
        assert _api("POST", fo_id, step)[0] == 200
    reads = reads_of_partition(monkeypatch, f"ORDER#{order_id}")
    assert _api("POST", fo_id, "ship", body={"carrier": "generic", "tracking_number": "SHIP-READS"})[0] == 201
    # The order with its fulfillment orders, then the allocations (with the stock, elsewhere).
    assert [operation for operation, _ in reads] == ["Query", "BatchGetItem"]


@pytest.mark.parametrize("buckets", [1, 3])
@pytest.mark.parametrize("action", ["ship", "reject", "cancel"])
def test_units_leaving_a_fulfillment_order_read_its_allocations_and_stock_at_once(
    resumed, monkeypatch, action, buckets
):
    """Shipping, rejecting or cancelling the units: the allocations' read names both pairs' own
    items; only a split pair is read again, with its buckets, for one holding the units."""
    from functions.inventory.store import set_buckets

    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east")
    order_id, _ = _released_order(f"FO-STOCK-{action}-{buckets}")
    if buckets > 1:
        set_buckets("TSHIRT-M", "wh-east", buckets)  # split after the reservation: bucket 0 holds it
    fo_id = _fos(order_id)["wh-east"]["fo_id"]
    before = {sku: get_stock(sku, "wh-east") for sku in ("TSHIRT-M", "JEANS-32")}
    reads = reads_of_partition(monkeypatch, "SKU#TSHIRT-M", "SKU#JEANS-32")
    if action == "ship":
        body = {"carrier": "dhl", "tracking_number": f"TRK-STOCK-{buckets}"}
        assert _api("POST", fo_id, "ship", body=body)[0] == 201
    elif action == "reject":
        assert _api("POST", fo_id, "reject", body={"reason": "damaged"})[0] == 200
    else:
        lines = {sku: line["line_id"] for sku, line in _lines(order_id).items()}
        cancel_fulfillment_lines(order_id, {lines["TSHIRT-M"]: 2, lines["JEANS-32"]: 1}, "customer asked")
    together = ("BatchGetItem", ["LOC#wh-east", "LOC#wh-east"])
    assert reads == ([together] if buckets == 1 else [together, ("GetItem", ["LOC#wh-east"])])
    shipped = action == "ship"  # units shipped leave on hand; released ones become available again
    for sku, quantity in (("TSHIRT-M", 2), ("JEANS-32", 1)):
        after, was = get_stock(sku, "wh-east"), before[sku]
        assert after is not None and was is not None
        assert (after.on_hand, after.reserved, after.available) == (
            was.on_hand - quantity * shipped,
            was.reserved - quantity,
            was.available + quantity * (not shipped),
        )


def test_a_whole_shipment_during_the_waits_reads_ends_it_on_the_common_way(resumed, monkeypatch):
    """The location ships the whole order between the wait's two reads back (its shipments and
    the order): the execution hears it shipped, not that part shipped and the rest is open."""
    from functions.fulfill import store
    from shared.table import Table

    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east")
    order_id, _ = _released_order("FO-SHIP-RACE")
    fo_id = _fos(order_id)["wh-east"]["fo_id"]
    shipped: list[Any] = []

    def ship_once() -> None:
        if not shipped:
            shipped.append(None)  # before the ship, which reads both too
            shipped[0] = _api("POST", fo_id, "ship", body={"carrier": "dhl", "tracking_number": "TRK-RACE"})

    read_shipments, read_item = store.shipments_of, Table.get

    def shipments_then_ship(*args: Any, **kwargs: Any) -> Any:
        found = read_shipments(*args, **kwargs)
        ship_once()
        return found

    def item_then_ship(self: Any, pk: str, sk: str, *args: Any, **kwargs: Any) -> Any:
        found = read_item(self, pk, sk, *args, **kwargs)
        if sk.startswith("FO#"):
            ship_once()
        return found

    monkeypatch.setattr(store, "shipments_of", shipments_then_ship)
    monkeypatch.setattr(Table, "get", item_then_ship)
    _step(await_fulfillment, {"order_id": order_id, "fo_id": fo_id, "task_token": "token-race"})
    assert shipped and shipped[0][0] == 201, shipped
    # The ship signalled the parked token, and the wait's own reads saw the order closed.
    assert resumed and all("branch" not in output for _, output in resumed), resumed


def test_a_partial_shipment_then_the_rest(resumed):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east")
    order_id, _ = _released_order("FO-SHIP")
    fo = _fos(order_id)["wh-east"]
    fo_id = fo["fo_id"]
    lines = _lines(order_id)
    tshirt = lines["TSHIRT-M"]["line_id"]
    _step(await_fulfillment, {"order_id": order_id, "fo_id": fo_id, "task_token": "token-1"})
    assert resumed == []  # nothing to report yet: the execution waits

    body = {"carrier": "dhl", "tracking_number": "TRK-1", "lines": [{"line_id": tshirt, "quantity": 1}]}
    status, _, first = _api("POST", fo_id, "ship", body=body, headers={"Idempotency-Key": "ship-1"})
    assert status == 201, first
    assert first["lines"] == [{"line_id": tshirt, "sku": "TSHIRT-M", "quantity": 1, "first_unit": 0}]
    assert first["capture_status"] == "pending" and first["tracking_status"] == "label_created"
    # The rest is still open: the wait ends on the branch that captures this part and waits on.
    shipped = {"event": "shipped", "fo_id": fo_id, "shipment_id": first["shipment_id"]}
    assert resumed == [("token-1", {"branch": "FulfillmentOrderOpen"} | shipped)]
    replay = _api("POST", fo_id, "ship", body=body, headers={"Idempotency-Key": "ship-1"})
    assert replay[0] == 201 and replay[2]["shipment_id"] == first["shipment_id"]
    stock = get_stock("TSHIRT-M", "wh-east")
    assert (stock.on_hand, stock.reserved, stock.available) == (9, 1, 8)
    assert _lines(order_id)["TSHIRT-M"]["quantities"]["shipped"] == 1
    record = load_order(order_id)
    assert record is not None and record.header["fulfillment_status"] == "partially_shipped"
    assert _api("GET", fo_id)[2]["status"] == "allocated"

    over = {"carrier": "dhl", "tracking_number": "TRK-2", "lines": [{"line_id": tshirt, "quantity": 2}]}
    status, _, problem = _api("POST", fo_id, "ship", body=over)
    assert status == 409 and problem["errors"][0] == {"field": "lines.0.quantity", "message": "only 1 open"}
    unknown = {"carrier": "dhl", "tracking_number": "TRK-2", "lines": [{"line_id": "ln_nope", "quantity": 1}]}
    assert _api("POST", fo_id, "ship", body=unknown)[0] == 422
    assert _api("POST", fo_id, "ship", body={"carrier": "dhl"})[0] == 422

    status, _, rest = _api("POST", fo_id, "ship", body={"carrier": "ups", "tracking_number": "TRK-2"})
    assert status == 201
    assert sorted((li["sku"], li["quantity"], li["first_unit"]) for li in rest["lines"]) == [
        ("JEANS-32", 1, 0),
        ("TSHIRT-M", 1, 1),
    ]
    assert _lines(order_id)["TSHIRT-M"]["quantities"] == {"ordered": 2, "allocated": 2, "shipped": 2}
    stock = get_stock("JEANS-32", "wh-east")
    assert (stock.on_hand, stock.reserved) == (9, 0)
    assert get_stock("TSHIRT-M", "wh-east").reserved == 0
    view = _api("GET", fo_id)[2]
    assert view["status"] == "fulfilled" and all(li["open"] == 0 for li in view["lines"])
    record = load_order(order_id)
    assert record is not None and record.header["fulfillment_status"] == "shipped"
    assert {a["status"] for a in record.others["ALLOC"]} == {"shipped"}
    status, _, problem = _api("POST", fo_id, "ship", body={"carrier": "ups", "tracking_number": "TRK-3"})
    assert status == 409 and problem["current_status"] == "fulfilled"
    found = find_shipment_by_tracking("TRK-2")
    assert found is not None and found["shipment_id"] == rest["shipment_id"]
    assert _events(order_id).count("shipment.shipped") == 2


def test_a_rejection_releases_the_stock_and_reroutes_elsewhere(resumed):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east", lat=52.5, lon=13.4)
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-west", lat=40.0, lon=-3.7)
    order_id, _ = _released_order(
        "FO-REJ",
        shipping={
            "address": {"line1": "1 Main", "city": "Berlin", "postal_code": "10115", "country": "DE"}
            | {"lat": 52.5, "lon": 13.4},
            "method": "express",
            "amount": 499,
        },
    )
    fos = _fos(order_id)
    assert set(fos) == {"wh-east"}  # the nearer one takes it all
    fo_id = fos["wh-east"]["fo_id"]
    _step(await_fulfillment, {"order_id": order_id, "fo_id": fo_id, "task_token": "token-r"})

    status, _, view = _api("POST", fo_id, "reject", body={"reason": "damaged stock"})
    assert status == 200 and view["status"] == "rejected"
    assert resumed == [("token-r", {"event": "rejected", "fo_id": fo_id})]
    east = get_stock("TSHIRT-M", "wh-east")
    assert (east.on_hand, east.reserved, east.available) == (10, 0, 10)
    record = load_order(order_id)
    assert record is not None and record.header["rejected_locations"] == ["wh-east"]
    assert all(line["quantities"]["allocated"] == 0 for line in record.lines)
    assert {a["status"] for a in record.others["ALLOC"]} == {"released"}
    assert _api("POST", fo_id, "reject", body={"reason": "again"})[0] == 409

    with pytest.raises(RerouteRejectedUnits):  # the workflow's branch back to AdvanceOrder
        settle_fulfillment_order(order_id, fo_id)
    review = review_fulfillment(order_id)
    assert review["next"] == "reroute" and review["attempt"] == 1 and review["open"] == []
    assert review_fulfillment(order_id)["attempt"] == 1  # a retried review counts once
    allocate_order(order_id)
    released = release_to_fulfillment(order_id)
    fos = _fos(order_id)
    assert set(fos) == {"wh-east", "wh-west"} and fos["wh-west"]["delivery_group"] == "express"
    assert released == {"open": [{"fo_id": fos["wh-west"]["fo_id"]}], "created": 1}
    assert get_stock("TSHIRT-M", "wh-west").reserved == 2
    assert review_fulfillment(order_id)["next"] == "fulfill"


def test_some_lines_rejected_keep_the_rest_open(resumed):
    _split_stock()
    order_id, _ = _released_order("FO-REJ-SOME")
    east = _fos(order_id)["wh-east"]
    tshirt = east["lines"][0]["line_id"]
    body = {"reason": "one is missing", "lines": [{"line_id": tshirt, "quantity": 1}]}
    status, _, view = _api("POST", east["fo_id"], "reject", body=body)
    assert status == 200 and view["status"] == "allocated" and view["lines"][0]["rejected"] == 1
    assert get_stock("TSHIRT-M", "wh-east").reserved == 1
    outcome = _step(await_fulfillment, {"order_id": order_id, "fo_id": east["fo_id"], "task_token": "late"})
    assert outcome == {"fo_id": east["fo_id"], "resumed": True, "event": "rejected"}  # heard although late
    assert (
        _step(await_fulfillment, {"order_id": order_id, "fo_id": east["fo_id"], "task_token": "next"})["resumed"]
        is False
    )
    assert review_fulfillment(order_id)["next"] == "reroute"


def test_past_the_reroute_limit_the_order_goes_to_operators(resumed):
    save_policy(RoutingPolicy(max_reroute_attempts=1))
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east", lat=52.5, lon=13.4)
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-west", lat=52.4, lon=13.0)
    order_id, _ = _released_order("FO-LIMIT")
    (first,) = _fos(order_id).values()
    assert _api("POST", first["fo_id"], "reject", body={"reason": "closed"})[0] == 200
    assert review_fulfillment(order_id)["next"] == "reroute"
    allocate_order(order_id)
    release_to_fulfillment(order_id)
    (second,) = [fo for fo in fulfillment_orders_of(order_id) if fo["status"] == "allocated"]
    assert second["location_id"] != first["location_id"]
    assert _api("POST", second["fo_id"], "reject", body={"reason": "closed too"})[0] == 200
    with pytest.raises(RerouteLimitReached):
        settle_fulfillment_order(order_id, second["fo_id"])


def _advanced_split_order(external_id: str) -> tuple[str, str, str]:
    """An order past AdvanceOrder: its T-shirts on a fulfillment order at wh-east, its jeans at
    wh-west (the only locations stocking them); the order id and both fulfillment order ids."""
    _split_stock()
    status, _, order = post(order_body(external_id))
    assert status == 201, order
    order_id = order["order_id"]
    assert advance_order(order_id).next is Next.FULFILL
    fos = _fos(order_id)
    return order_id, fos["wh-east"]["fo_id"], fos["wh-west"]["fo_id"]


def test_units_backordered_after_a_rejection_wait_behind_the_fulfillment_order_still_open(resumed):
    """A rejected unit no other location stocks is backordered; the order's other fulfillment
    order is still open, and what it ships is captured when it ships, not when stock arrives."""
    save_policy(RoutingPolicy(max_reroute_attempts=1))
    order_id, east, west = _advanced_split_order("FO-REJ-BACKORDER")
    assert _api("POST", east, "reject", body={"reason": "water damage"})[0] == 200
    with pytest.raises(RerouteRejectedUnits):
        settle_fulfillment_order(order_id, east)

    behind = advance_order(order_id)
    assert (behind.next, behind.backordered_units, behind.open) == (Next.FULFILL, 2, [{"fo_id": west}])
    assert behind.branch() is None  # AdvanceOrder's own task waits on the jeans' fulfillment order
    assert _api("POST", west, "ship", body={"carrier": "dhl", "tracking_number": "T-REJ-BO"})[0] == 201
    with pytest.raises(RerouteRejectedUnits) as back:  # nothing open any more: allocate again
        settle_fulfillment_order(order_id, west)
    # A shipment is no rejection: the one re-routing the policy allows is counted once.
    assert json.loads(str(back.value))["attempt"] == 1
    record = load_order(order_id)
    assert record is not None
    assert record.header["payment_status"] == "partially_captured"
    assert [s["capture_status"] for s in record.others["SHP"]] == ["captured"]

    parked = advance_order(order_id)
    assert (parked.next, parked.backordered_units, parked.open) == (Next.WAIT_FOR_STOCK, 2, [])


def test_an_order_whose_backorder_is_cancelled_after_the_rest_settled_completes(resumed):
    """The jeans are rejected and backordered after the T-shirts' fulfillment order shipped and
    settled; the jeans are then cancelled. Woken, AdvanceOrder has nothing left to wait on:
    it completes the order itself (the Map over no fulfillment order would end the execution
    with the order open)."""
    from functions.changes.logic.cancel import cancel_order
    from functions.changes.logic.models import CancelRequest
    from tests.integration.test_invariants_under_races import as_caller

    order_id, east, west = _advanced_split_order("FO-BO-CANCELLED")
    assert _api("POST", east, "ship", body={"carrier": "dhl", "tracking_number": "T-BO-CANCEL"})[0] == 201
    assert settle_fulfillment_order(order_id, east)["next"] == "fulfill"  # the jeans are still open
    assert _api("POST", west, "reject", body={"reason": "water damage"})[0] == 200
    with pytest.raises(RerouteRejectedUnits):
        settle_fulfillment_order(order_id, west)
    assert advance_order(order_id).next is Next.WAIT_FOR_STOCK

    jeans = _lines(order_id)["JEANS-32"]["line_id"]
    request = CancelRequest.model_validate({"reason": "no longer wanted", "lines": [{"line_id": jeans, "quantity": 1}]})
    cancel_order(as_caller("dev-agent-key"), order_id, request, preview=False)
    woken = advance_order(order_id)
    assert (woken.next, woken.backordered_units, woken.open) == (Next.FULFILL, 0, [])
    record = load_order(order_id)
    assert record is not None
    assert (record.header["status"], record.header["fulfillment_status"]) == ("completed", "shipped")
    assert _events(order_id).count("order.completed") == 1


def test_review_completes_the_order_once_everything_shipped(resumed):
    _split_stock()
    order_id, released = _released_order("FO-DONE")
    assert review_fulfillment(order_id) == {"next": "fulfill", "open": released["open"]}
    for fo in _fos(order_id).values():
        assert (
            _api("POST", fo["fo_id"], "ship", body={"carrier": "dhl", "tracking_number": f"T-{fo['fo_id']}"})[0] == 201
        )
    # Shipped, not yet captured: another pass captures them before the order completes.
    assert review_fulfillment(order_id) == {"next": "fulfill", "open": released["open"]}
    for fo in _fos(order_id).values():
        capture_shipments(order_id, fo["fo_id"])
    assert review_fulfillment(order_id) == {"next": "done", "open": []}
    assert review_fulfillment(order_id) == {"next": "done", "open": []}
    record = load_order(order_id)
    assert record is not None
    assert (record.header["status"], record.header["fulfillment_status"]) == ("completed", "shipped")
    assert record.header["workflow"]["status"] == "SUCCEEDED"
    assert _events(order_id).count("order.completed") == 1


def _one_tshirt_shipped(external_id: str, tracking_number: str) -> tuple[str, str]:
    """An order at wh-east of which one of its two T-shirts shipped: its id and its FO's."""
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east")
    order_id, _ = _released_order(external_id)
    fo_id = _fos(order_id)["wh-east"]["fo_id"]
    tshirt = _lines(order_id)["TSHIRT-M"]["line_id"]
    body = {"carrier": "dhl", "tracking_number": tracking_number, "lines": [{"line_id": tshirt, "quantity": 1}]}
    assert _api("POST", fo_id, "ship", body=body)[0] == 201
    return order_id, fo_id


def test_the_last_fulfillment_order_to_settle_completes_the_order(resumed):
    """Each wait settles on its own; the one that finds nothing else open completes the order."""
    _split_stock()
    order_id, _ = _released_order("FO-SETTLE")
    east, west = _fos(order_id)["wh-east"], _fos(order_id)["wh-west"]
    for fo in (east, west):
        assert (
            _api("POST", fo["fo_id"], "ship", body={"carrier": "dhl", "tracking_number": f"S-{fo['fo_id']}"})[0] == 201
        )
    # West's shipment is not captured yet: east settles and leaves the order to it.
    settled = settle_fulfillment_order(order_id, east["fo_id"])
    assert settled["next"] == "fulfill" and len(settled["invoices"]) == 1
    record = load_order(order_id)
    assert record is not None and record.header["status"] == "open"
    assert settle_fulfillment_order(order_id, west["fo_id"])["next"] == "done"
    record = load_order(order_id)
    assert record is not None and record.header["status"] == "completed"
    assert {s["capture_status"] for s in record.others["SHP"]} == {"captured"}
    assert settle_fulfillment_order(order_id, west["fo_id"])["next"] == "done"  # a retry completes nothing twice
    assert _events(order_id).count("order.completed") == 1


def test_two_fulfillment_orders_settling_at_once_complete_the_order_once(resumed):
    """The waits end together: each settle captures its own shipment and then reads the
    order, so whichever reads last sees both captured and completes it, exactly once."""
    for trial in range(4):
        stock_up({"TSHIRT-M": 10}, location_id="wh-east", lat=52.5, lon=13.4)
        stock_up({"JEANS-32": 10}, location_id="wh-west", lat=52.4, lon=13.0)
        order_id, _ = _released_order(f"FO-TOGETHER-{trial}")
        fos = [fo["fo_id"] for fo in _fos(order_id).values()]
        assert len(fos) == 2
        for fo_id in fos:
            assert _api("POST", fo_id, "ship", body={"carrier": "dhl", "tracking_number": f"TG-{fo_id}"})[0] == 201
        barrier = threading.Barrier(2)

        def settle(fo_id: str, order_id: str = order_id, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            while True:  # as the state machine's Retry does: two captures on one authorization race
                try:
                    return str(settle_fulfillment_order(order_id, fo_id)["next"])
                except RetryableError:
                    continue

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(settle, fos))
        assert "done" in outcomes and set(outcomes) <= {"done", "fulfill"}, outcomes
        record = load_order(order_id)
        assert record is not None and record.header["status"] == "completed", (trial, outcomes)
        assert {s["capture_status"] for s in record.others["SHP"]} == {"captured"}
        assert len(record.others["INV"]) == 2
        assert _events(order_id).count("order.completed") == 1


def test_settling_a_fulfillment_order_still_open_branches_back(resumed):
    order_id, fo_id = _one_tshirt_shipped("FO-OPEN", "P-1")
    with pytest.raises(FulfillmentContinues):
        settle_fulfillment_order(order_id, fo_id)
    # What shipped was captured before the branch: the next pass does not capture it again.
    record = load_order(order_id)
    assert record is not None and [s["capture_status"] for s in record.others["SHP"]] == ["captured"]


def test_a_shipment_landing_while_the_one_before_is_captured_is_captured_before_completion(resumed):
    """The pass over a fulfillment order ends once its first shipment is captured; the rest
    shipped meanwhile closes it with a shipment still to capture, which the review waits on."""
    order_id, fo_id = _one_tshirt_shipped("FO-LATE", "TRK-L1")
    assert capture_shipments(order_id, fo_id)["captured"] > 0
    assert _api("POST", fo_id, "ship", body={"carrier": "dhl", "tracking_number": "TRK-L2"})[0] == 201
    assert _api("GET", fo_id)[2]["status"] == "fulfilled"

    assert review_fulfillment(order_id) == {"next": "fulfill", "open": [{"fo_id": fo_id}]}
    _step(await_fulfillment, {"order_id": order_id, "fo_id": fo_id, "task_token": "token-late"})
    assert resumed[-1] == ("token-late", {"event": "fulfilled", "fo_id": fo_id})  # the pass resumes at once
    assert capture_shipments(order_id, fo_id)["captured"] > 0
    assert review_fulfillment(order_id) == {"next": "done", "open": []}
    record = load_order(order_id)
    assert record is not None and record.header["status"] == "completed"
    assert {s["capture_status"] for s in record.others["SHP"]} == {"captured"}
    assert len(record.others["INV"]) == 2


def test_cancelling_units_a_location_holds(resumed):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east")
    order_id, _ = _released_order("FO-CANCEL")
    fo = _fos(order_id)["wh-east"]
    _step(await_fulfillment, {"order_id": order_id, "fo_id": fo["fo_id"], "task_token": "token-c"})
    jeans = _lines(order_id)["JEANS-32"]["line_id"]
    plan = cancel_fulfillment_lines(order_id, {jeans: 1, "ln_elsewhere": 2}, "customer asked")
    assert plan.unplaced == {"ln_elsewhere": 2} and plan.released == {2: 1}
    # The T-shirts are still open: the execution waits on (the branch that keeps the wait).
    assert resumed == [("token-c", {"branch": "FulfillmentOrderOpen", "event": "cancelled", "fo_id": fo["fo_id"]})]
    assert get_stock("JEANS-32", "wh-east").reserved == 0
    assert _lines(order_id)["JEANS-32"]["quantities"]["allocated"] == 0
    view = _api("GET", fo["fo_id"])[2]
    assert [(li["sku"], li["cancelled"], li["open"]) for li in view["lines"]] == [
        ("TSHIRT-M", 0, 2),
        ("JEANS-32", 1, 0),
    ]
    assert view["status"] == "allocated"


def test_the_pick_list_as_json_and_as_a_printable_page(resumed):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east")
    order_id, _ = _released_order("FO-PICK", customer={"email": "b@example.com", "name": "Bo <b> & Co"})
    fo_id = _fos(order_id)["wh-east"]["fo_id"]
    status, _, pick = _api("GET", fo_id, "pick-list")
    assert status == 200
    assert [(li["sku"], li["quantity"]) for li in pick["lines"]] == [("TSHIRT-M", 2), ("JEANS-32", 1)]
    assert pick["total_units"] == 3 and pick["ship_to"]["address"]["city"] == "Berlin"
    status, headers, page = _api("GET", fo_id, "pick-list", query={"format": "html"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "TSHIRT-M" in page and "Bo &lt;b&gt; &amp; Co" in page and "<script" not in page
    assert _api("GET", fo_id, "pick-list", query={"format": "pdf"})[0] == 422


def test_a_shipment_past_one_transaction_is_written_in_whole_parts(resumed):
    skus = {f"BULK-{i:03d}": 5 for i in range(40)}
    stock_up(skus, location_id="wh-east")
    lines = [{"sku": sku, "quantity": 2, "unit_price": 1000} for sku in skus]
    order_id, _ = _released_order("FO-BULK", lines=lines, promotions=[])
    fo_id = _fos(order_id)["wh-east"]["fo_id"]
    status, _, first = _api("POST", fo_id, "ship", body={"carrier": "dhl", "tracking_number": "BULK-1"})
    assert status == 201 and len(first["parts"]) == 2 and first["shipment_id"] == first["parts"][0]
    record = load_order(order_id)
    assert record is not None
    shipments = record.others["SHP"]
    assert sorted(s["shipment_id"] for s in shipments) == sorted(first["parts"])
    assert sum(len(s["lines"]) for s in shipments) == 40
    # Both parts are found by their one tracking number, in id order, under one short sort key.
    assert {s["gsi2sk"] for s in shipments} == {"SHP"}
    assert [s["shipment_id"] for s in find_shipments_by_tracking("BULK-1")] == sorted(first["parts"])
    assert all(line["quantities"]["shipped"] == 2 for line in record.lines)
    assert record.header["fulfillment_status"] == "shipped" and record.header["shipped_units"] == 80
    assert {get_stock(sku, "wh-east").on_hand for sku in skus} == {3}
    assert _api("GET", fo_id)[2]["status"] == "fulfilled"


def test_completion_keeps_a_delivery_that_landed_while_it_was_deciding(resumed):
    """The carrier's "delivered" can land between the review's read and its write."""
    from functions.fulfill.logic import review
    from shared.order import keys
    from shared.table import Table

    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east")
    order_id, _ = _released_order("FO-RACE")
    fo_id = _fos(order_id)["wh-east"]["fo_id"]
    status, _, _ = _api("POST", fo_id, "ship", body={"carrier": "dhl", "tracking_number": "TRK-RACE"})
    assert status == 201
    stale = load_order(order_id)
    assert stale is not None and stale.header["fulfillment_status"] == "shipped"
    Table().update(
        keys.order_pk(order_id), keys.ORDER_HEADER, "SET fulfillment_status = :d", values={":d": "delivered"}
    )
    assert review._complete(Table(), stale) == {"next": "done", "open": []}
    header = load_order(order_id).header  # type: ignore[union-attr]
    assert (header["status"], header["fulfillment_status"]) == ("completed", "delivered")


def test_an_order_whose_last_open_units_are_cancelled_after_its_parcels_arrived_completes_delivered(resumed):
    """Shipped part delivered, the rest (never shipped) cancelled: no carrier event is left to
    come, so the completion itself finds every parcel delivered."""
    from tests.integration.test_cancel_and_adjust import post_change
    from tests.integration.test_tracking import generic, post_webhook

    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east")
    order_id, _ = _released_order("FO-LAST-CANCEL")
    fo_id = _fos(order_id)["wh-east"]["fo_id"]
    lines = _lines(order_id)
    tshirt, jeans = lines["TSHIRT-M"]["line_id"], lines["JEANS-32"]["line_id"]
    body = {"carrier": "dhl", "tracking_number": "TRK-PART", "lines": [{"line_id": tshirt, "quantity": 2}]}
    assert _api("POST", fo_id, "ship", body=body)[0] == 201
    assert post_webhook("generic", generic("part-1", "TRK-PART", "delivered", "2024-05-02T10:00:00.000Z"))[0] == 202
    assert load_order(order_id).header["fulfillment_status"] == "partially_shipped"  # type: ignore[union-attr]

    cancel = {"lines": [{"line_id": jeans, "quantity": 1}], "reason": "no longer wanted"}
    status, _, change = post_change(order_id, "cancel", cancel, headers={"Idempotency-Key": "last-cancel"})
    assert status == 201, change
    capture_shipments(order_id, fo_id)  # the pass over the fulfillment order captured its shipment
    assert review_fulfillment(order_id) == {"next": "done", "open": []}

    header = load_order(order_id).header  # type: ignore[union-attr]
    assert (header["status"], header["fulfillment_status"]) == ("completed", "delivered")
    assert header["delivered_at"] == "2024-05-02T10:00:00.000Z"
    assert _events(order_id).count("order.delivered") == 1
