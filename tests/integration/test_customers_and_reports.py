"""Customer 360, search, reports and erasure on the read models the stream keeps."""

from __future__ import annotations

import threading
from typing import Any

from functions.customers.handlers.api import handler as customers_handler
from functions.customers.logic import projection
from functions.customers.logic.projection import project_order, rebuild
from functions.customers.rules.facts import placed_at
from functions.customers.store import facts_of_day, lifetimes
from functions.reports.handlers.api import handler as reports_handler
from functions.reports.rules.metrics import seconds_between
from infra.local import moto_patches
from shared.order.keys import line_sk, order_pk
from shared.order.record import load_order
from shared.table import Table
from tests.integration.conftest import api_event, call, stock_up
from tests.integration.test_cancel_and_adjust import (
    LOCATION,
    capture,
    line_id,
    order_body,
    post_change,
    released_to_fulfillment,
    wait_for,
)
from tests.integration.test_returns import post_return, receive, ship_everything


def get(handler: Any, path: str, resource: str, key: str = "dev-agent-key", query=None, path_parameters=None):
    return call(
        handler, api_event("GET", path, resource=resource, key=key, query=query, path_parameters=path_parameters)
    )


def settled(order_ids: list[str]) -> None:
    """Every stream record is delivered, so the read models caught up with these orders."""
    moto_patches.wait_for_streams()
    for order_id in order_ids:
        assert project_order(order_id) is False, "the stream left an order's read models behind"


def place_mix(*, with_backorder_and_return: bool = False) -> tuple[str, list[str]]:
    """Shipped and appeased; partly cancelled; released; optionally partly backordered, and a return."""
    stock_up({"SHIRT-A": 50, "SHOES-B": 50, "SOCKS-C": 50, "GLOVES-D": 1}, location_id=LOCATION)
    shipped = capture(order_body("MIX-1"))
    cancelled = capture(order_body("MIX-2"))
    third = capture(order_body("MIX-3", promotions=[]))
    ids = [shipped["order_id"], cancelled["order_id"], third["order_id"]]
    if with_backorder_and_return:
        short = capture(
            order_body("MIX-4", lines=[{"sku": "GLOVES-D", "quantity": 3, "unit_price": 1500}], promotions=[])
        )
        ids.append(short["order_id"])
    record = ship_everything(shipped["order_id"])
    if with_backorder_and_return:
        status, _, rma = post_return(
            shipped["order_id"],
            {"lines": [{"line_id": line_id(record, "SOCKS-C"), "quantity": 1, "reason": "defective"}]},
        )
        assert status == 201, rma
        status, _, received = receive(
            rma["return_id"], [{"line_id": line_id(record, "SOCKS-C"), "quantity": 1, "condition": "damaged"}]
        )
        assert status == 200, received
        wait_for(lambda: load_order(shipped["order_id"]).others["RET"][0]["status"] == "closed")
        wait_for(lambda: load_order(ids[3]).header["fulfillment_status"] == "backordered")
    record = released_to_fulfillment(cancelled["order_id"])
    body = {"lines": [{"line_id": line_id(record, "SHOES-B"), "quantity": 1}], "reason": "changed mind"}
    status, _, change = post_change(cancelled["order_id"], "cancel", body, key="dev-agent-key")
    assert status in (200, 201), change
    status, _, change = post_change(
        shipped["order_id"], "adjustments", {"amount": 500, "reason": "late"}, key="dev-agent-key"
    )
    assert status in (200, 201), change
    wait_for(lambda: load_order(shipped["order_id"]).header.get("payment_totals", {}).get("refunded", 0) >= 500)
    released_to_fulfillment(third["order_id"])
    settled(ids)
    return shipped["customer_id"], ids


def expected_lifetime(order_ids: list[str]) -> dict[str, int]:
    records = [load_order(i) for i in order_ids]
    captured = sum(r.header.get("payment_totals", {}).get("captured", 0) for r in records)
    refunded = sum(r.header.get("payment_totals", {}).get("refunded", 0) for r in records)
    cancelled = -sum(c["totals"]["total"] for r in records for c in r.others.get("CHG", []) if c["kind"] == "cancel")
    return {
        "orders": len(records),
        "units": sum(line["quantity"] for r in records for line in r.lines),
        "ordered": sum(r.header["totals"]["total"] for r in records),
        "cancelled": cancelled,
        "captured": captured,
        "refunded": refunded,
        "net": captured - refunded,
    }


def recomputed_from_orders(records: list[Any]) -> dict[str, Any]:
    """Every summary figure straight from the orders' items, as docs/reports.md defines it."""
    from functions.reports.rules.metrics import percentile, rate

    def round_one_short(r: Any) -> list[str]:
        allocs = r.others.get("ALLOC", [])
        if not allocs:
            return [line["sku"] for line in r.lines] if r.header["fulfillment_status"] == "backordered" else []
        placed = {line["line_id"]: 0 for line in r.lines}
        for a in allocs:
            if a["round"] == 1:
                placed[a["line_id"]] += a["quantity"]
        return [line["sku"] for line in r.lines if placed[line["line_id"]] < line["quantity"]]

    ran = [r for r in records if r.others.get("ALLOC") or r.header["fulfillment_status"] == "backordered"]
    shipped = [r for r in records if r.others.get("SHP")]
    to_ship = [seconds_between(placed_at(r.header), min(s["shipped_at"] for s in r.others["SHP"])) for r in shipped]
    units_shipped = sum(line["quantities"].get("shipped", 0) for r in records for line in r.lines)
    gmv = sum(r.header["totals"]["total"] for r in records)
    return {
        "orders": len(records),
        "units": sum(line["quantity"] for r in records for line in r.lines),
        "gmv": {"EUR": gmv},
        "aov": {"EUR": round(gmv / len(records))},
        "fill_rate": rate(
            sum(1 for r in ran if not round_one_short(r) and not r.header.get("rejected_locations")), len(ran)
        ),
        "split_rate": rate(sum(1 for r in shipped if len(r.others["SHP"]) > 1), len(shipped)),
        "backorder_rate": rate(sum(1 for r in ran if round_one_short(r)), len(ran)),
        "cancel_rate": rate(
            sum(1 for r in records if any(line["quantities"].get("cancelled", 0) for line in r.lines)), len(records)
        ),
        "return_rate": rate(
            sum(line["quantities"].get("returned", 0) for r in records for line in r.lines), units_shipped
        ),
        "time_to_ship": {"p50": percentile(to_ship, 50), "p90": percentile(to_ship, 90)},
        "time_to_delivery": {"p50": None, "p90": None},
        "on_time_ship_rate": rate(sum(1 for t in to_ship if t <= 48 * 3600), len(to_ship)),
        "stock_outs": len({sku for r in records for sku in round_one_short(r)}),
    }


def test_the_360_view_search_reports_and_rebuild_agree_with_the_orders(aws):
    customer_id, order_ids = place_mix(with_backorder_and_return=True)
    status, _, view = get(
        customers_handler,
        f"/v1/customers/{customer_id}",
        "/v1/customers/{customer_id}",
        path_parameters={"customer_id": customer_id},
    )
    assert status == 200, view
    expected = expected_lifetime(order_ids)
    assert expected["cancelled"] > 0 and expected["refunded"] > 500 and expected["captured"] > 0
    assert {k: view["lifetime"][k] for k in expected} == expected
    assert view["lifetime"]["average_order_value"] == round((expected["ordered"] - expected["cancelled"]) / 4)
    assert view["lifetime"]["returns"] == 1 and view["lifetime"]["return_rate"] == round(1 / 6, 4)
    assert view["segment"] == "loyal"
    assert {o["order_id"] for o in view["open_orders"]} >= {order_ids[1], order_ids[2]}
    assert any(s["tracking_number"] for s in view["recent_shipments"])
    assert view["recent_events"] and view["recent_payments"]

    # A redelivered record changes nothing; a rebuild from the orders gives the same figures.
    days = sorted({placed_at(load_order(i).header)[:10] for i in order_ids})  # two if placed across midnight
    live_facts = {f["order_id"]: f for d in days for f in facts_of_day(d)}
    live_lifetime = lifetimes(customer_id)
    assert project_order(order_ids[0]) is False
    Table().update(
        f"CUSTOMER#{customer_id}", "LIFETIME#EUR", "SET captured = :wrong", values={":wrong": 1}
    )  # a counter gone wrong is repaired by the rebuild
    rebuild()
    # A counter never moved is absent from the live item and 0 in the rebuilt one.
    assert [{k: v for k, v in c.items() if v != 0} for c in lifetimes(customer_id)] == live_lifetime
    rebuilt = {f["order_id"]: f for d in days for f in facts_of_day(d)}
    assert {k: {n: v for n, v in f.items() if n != "revision"} for k, f in rebuilt.items()} == {
        k: {n: v for n, v in f.items() if n != "revision"} for k, f in live_facts.items()
    }

    # Search: e-mail, external id and tracking number, one read each; a channel key sees its own only.
    def search(q: str, key: str = "dev-agent-key") -> list[dict[str, Any]]:
        status, _, page = get(customers_handler, "/v1/search", "/v1/search", key=key, query={"q": q})
        assert status == 200, page
        return list(page["items"])

    by_email = search("grace@example.com")
    assert {h["order_id"] for h in by_email if h["kind"] == "order"} == set(order_ids)
    assert [h["customer_id"] for h in by_email if h["kind"] == "customer"] == [customer_id]
    assert [h["order_id"] for h in search("MIX-2")] == [order_ids[1]]
    tracking = load_order(order_ids[0]).others["SHP"][0]["tracking_number"]
    assert [h["order_id"] for h in search(tracking)] == [order_ids[0]]
    assert [h["order_id"] for h in search("MIX-2", key="dev-web-key")] == [order_ids[1]]
    assert search("grace@example.com", key="dev-pos-key") == []
    assert [h["customer_id"] for h in search("Grace")] == [customer_id]

    # Reports: every summary figure recomputed from the orders themselves.
    first, last = days[0], days[-1]
    status, _, report = get(
        reports_handler, "/v1/reports/summary", "/v1/reports/summary", query={"from": first, "to": last}
    )
    assert status == 200, report
    records = [load_order(i) for i in order_ids]
    assert report == {"from": first, "to": last, **recomputed_from_orders(records)}
    # The mix exercises each figure: one partial backorder, one return, one cancellation.
    assert report["backorder_rate"] == 0.25 and report["fill_rate"] == 0.75 and report["stock_outs"] == 1
    assert report["return_rate"] == round(1 / 6, 4) and report["cancel_rate"] == 0.25
    status, _, daily = get(reports_handler, "/v1/reports/daily", "/v1/reports/daily", query={"from": first, "to": last})
    assert status == 200 and sum(d["orders"] for d in daily["items"]) == 4
    status, headers, csv_text = get(
        reports_handler, "/v1/reports/export", "/v1/reports/export", query={"kind": "lines", "from": first, "to": last}
    )
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert len(csv_text.strip().splitlines()) == 1 + sum(len(r.lines) for r in records)


def test_erasure_removes_personal_data_and_keeps_the_money(aws):
    customer_id, order_ids = place_mix()
    before = lifetimes(customer_id)
    path = f"/v1/customers/{customer_id}/erase"
    event = api_event(
        "POST",
        path,
        resource="/v1/customers/{customer_id}/erase",
        key="dev-ops-key",
        path_parameters={"customer_id": customer_id},
    )
    status, _, out = call(customers_handler, event)
    assert status == 200 and out["orders"] == 3, out
    moto_patches.wait_for_streams()
    for order_id in order_ids:
        header = load_order(order_id).header
        text = repr(header)
        assert "grace" not in text.lower() and "Main St" not in text
        assert header["totals"]["total"] > 0
        outbox = list(Table().query_all("pk = :pk", {":pk": f"OUTBOX#{order_id}"}))
        assert all("grace" not in repr(m).lower() for m in outbox)
    assert any(Table().query_all("pk = :pk", {":pk": f"OUTBOX#{order_ids[0]}"})), "messages were kept to erase"
    profile = Table().get(f"CUSTOMER#{customer_id}", "PROFILE")
    assert profile.get("email") is None and "gsi1pk" not in profile
    assert Table().get("CUSTOMEREMAIL#grace@example.com", "CUSTOMEREMAIL") is None
    assert lifetimes(customer_id) == before
    status, _, page = get(customers_handler, "/v1/search", "/v1/search", query={"q": "grace@example.com"})
    assert status == 200 and page["items"] == []


def test_a_projection_that_read_stale_facts_loses_its_condition_and_counts_nothing_twice(aws, monkeypatch):
    """Two projections of one order: the one that read before the other wrote must not add its delta again."""
    from functions.customers.logic import projection

    stock_up({"SHIRT-A": 5}, location_id=LOCATION)
    order = capture(order_body("RACE-1", lines=[{"sku": "SHIRT-A", "quantity": 1, "unit_price": 1000}], promotions=[]))
    released_to_fulfillment(order["order_id"])
    settled([order["order_id"]])
    before = lifetimes(order["customer_id"])
    assert before[0]["orders"] == 1

    real_get_facts = projection.store.get_facts
    reads = {"n": 0}

    def stale_then_real(day, order_id, table=None):
        reads["n"] += 1
        return None if reads["n"] == 1 else real_get_facts(day, order_id, table)

    monkeypatch.setattr(projection.store, "get_facts", stale_then_real)
    assert project_order(order["order_id"]) is False  # refused once, then nothing left to write
    assert reads["n"] == 2
    assert lifetimes(order["customer_id"]) == before


def test_redelivered_and_reordered_stream_records_leave_the_figures_exact(aws):
    from functions.customers.handlers.projection import handler as projection_handler
    from infra.local.runtime import LambdaContext

    stock_up({"SHIRT-A": 5}, location_id=LOCATION)
    order = capture(order_body("REDELIVER-1", lines=[{"sku": "SHIRT-A", "quantity": 2, "unit_price": 700}]))
    released_to_fulfillment(order["order_id"])
    settled([order["order_id"]])
    before = lifetimes(order["customer_id"])
    day = placed_at(load_order(order["order_id"]).header)[:10]
    day_facts = facts_of_day(day)

    def record(sk: str, sequence: str) -> dict[str, Any]:
        keys = {"pk": {"S": f"ORDER#{order['order_id']}"}, "sk": {"S": sk}}
        return {"eventName": "MODIFY", "dynamodb": {"Keys": keys, "SequenceNumber": sequence}}

    # The same batch twice, then its records in the reverse order.
    batch = [record("HEADER", "1"), record("LINE#00001", "2"), record("HEADER", "3")]
    for records in (batch, batch, list(reversed(batch))):
        out = projection_handler({"Records": records}, LambdaContext(function_name="ReadModels"))
        assert out == {"batchItemFailures": []}
    assert lifetimes(order["customer_id"]) == before
    assert facts_of_day(day) == day_facts
    assert before[0]["ordered"] == order["totals"]["total"] and before[0]["units"] == 2


def test_a_projection_of_new_lines_alone_reads_the_header_before_the_whole_order(aws, monkeypatch):
    """Capture writes an order's lines before its header: a batch of those lines alone costs
    one header read until the header is there, then the order is projected as always.
    The order stays as captured (no workflow moves it on), and only this thread's loads
    count: the stream's batches are projected in the stack's own threads."""
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    loads: list[str] = []
    load = projection.load_order
    this_thread = threading.get_ident()

    def counted_load(order_id, table=None):
        if threading.get_ident() == this_thread:
            loads.append(order_id)
        return load(order_id, table)

    monkeypatch.setattr(projection, "load_order", counted_load)
    Table().batch_put(
        [{"pk": order_pk("ord_linesfirst"), "sk": line_sk(n), "type": "line", "sku": "A"} for n in (1, 2)]
    )
    assert project_order("ord_linesfirst", lines_only=True) is False
    assert loads == []
    assert project_order("ord_linesfirst") is False  # the same batch as any other change: the whole order read
    assert loads == ["ord_linesfirst"]

    order = capture(order_body("LINES-THEN-HEADER"))
    settled([order["order_id"]])
    loads.clear()
    assert project_order(order["order_id"], lines_only=True) is False  # projected already, by its header's record
    assert loads == [order["order_id"]]


def test_a_batch_that_changes_nothing_the_facts_read_does_not_read_the_order(aws, monkeypatch):
    """An authorization's totals on the header (and the payment item written with them) change
    no read model: the projection passes over them; the capture's totals it does not."""
    from functions.customers.handlers.projection import handler as projection_handler
    from infra.local.runtime import LambdaContext
    from shared.table import to_ddb

    stock_up({"SHIRT-A": 5}, location_id=LOCATION)
    order = capture(
        order_body("NOTHING-READ", lines=[{"sku": "SHIRT-A", "quantity": 1, "unit_price": 900}], promotions=[])
    )
    released_to_fulfillment(order["order_id"])
    settled([order["order_id"]])
    header = Table().get(order_pk(order["order_id"]), "HEADER")
    assert header is not None and header["payment_totals"]["authorized"] > 0
    loads: list[str] = []
    load, this_thread = projection.load_order, threading.get_ident()

    def counted_load(order_id, table=None):
        if threading.get_ident() == this_thread:
            loads.append(order_id)
        return load(order_id, table)

    monkeypatch.setattr(projection, "load_order", counted_load)

    def modified(old: dict[str, Any], new: dict[str, Any], sequence: str) -> dict[str, Any]:
        keys = {"pk": {"S": new["pk"]}, "sk": {"S": new["sk"]}}
        image = {"Keys": keys, "OldImage": to_ddb(old), "NewImage": to_ddb(new), "SequenceNumber": sequence}
        return {"eventName": "MODIFY" if old else "INSERT", "dynamodb": image}

    before_authorization = header | {"payment_totals": header["payment_totals"] | {"authorized": 0}, "version": 1}
    payment = {"pk": header["pk"], "sk": "PAY#pay_x", "type": "payment", "amount": 900}
    records = [modified(before_authorization, header, "1"), modified({}, payment, "2")]
    out = projection_handler({"Records": records}, LambdaContext(function_name="ReadModels"))
    assert out == {"batchItemFailures": []} and loads == []

    before_capture = header | {"payment_totals": header["payment_totals"] | {"captured": 1}}
    out = projection_handler(
        {"Records": [modified(before_capture, header, "3")]}, LambdaContext(function_name="ReadModels")
    )
    assert out == {"batchItemFailures": []} and loads == [order["order_id"]]
