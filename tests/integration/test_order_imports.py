"""Bulk order imports through the local stack: file -> OrderImport queue -> capture per order,
a result per order, nothing captured twice when the same file comes again."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from functions.channels.handlers.order_imports_api import handler
from infra.local import moto_patches
from shared.order.record import find_order_id, load_order
from tests.integration.conftest import api_event, call
from tests.integration.test_capture_api import order_body

RESOURCE = "/v1/orders/imports"


@pytest.fixture
def imports(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Imported orders are captured without starting their executions (a thousand lifecycles
    on moto would be a test of moto)."""
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")


@pytest.fixture
def quiet_bus(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The projector's domain events are counted instead of published: a thousand order.captured
    events through EventBridge to the webhook and notification queues are another test's subject."""
    published: list[str] = []

    def count(events: list[dict[str, Any]]) -> list[int]:
        published.extend(e["detail_type"] for e in events)
        return []

    monkeypatch.setattr("functions.ops.handlers.projector.publish", count)
    return published


@pytest.fixture
def projected(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The orders whose changes reached the read-model projection, noted instead of projected:
    a thousand orders' facts and counters are the projection's own tests' subject."""
    seen: set[str] = set()
    monkeypatch.setattr(
        "functions.customers.handlers.projection.project_order", lambda order_id, **_: seen.add(order_id)
    )
    return seen


def post_file(text: str, content_type: str, key: str = "dev-ops-key") -> tuple[int, Any]:
    event = api_event("POST", RESOURCE, resource=RESOURCE, key=key, body=text, headers={"content-type": content_type})
    status, _, body = call(handler, event)
    return status, body


def get_import(import_id: str, key: str = "dev-ops-key", **query: str) -> tuple[int, Any]:
    path = f"{RESOURCE}/{import_id}"
    event = api_event(
        "GET",
        path,
        resource=f"{RESOURCE}/{{import_id}}",
        key=key,
        path_parameters={"import_id": import_id},
        query=query or None,
    )
    status, _, body = call(handler, event)
    return status, body


def completed(import_id: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        moto_patches.wait_for_queues(timeout=30)
        status, view = get_import(import_id)
        assert status == 200, view
        if view["status"] == "completed" or time.monotonic() > deadline:
            return dict(view)
        time.sleep(0.2)


def every_row(import_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        _, view = get_import(import_id, limit="500", **({"cursor": cursor} if cursor else {}))
        rows.extend(view["rows"])
        cursor = view["next_cursor"]
        if not cursor:
            return rows


def jsonl(orders: list[Any]) -> str:
    return "\n".join(o if isinstance(o, str) else json.dumps(o) for o in orders) + "\n"


@pytest.mark.slow
def test_a_thousand_orders_each_applied_or_reported_and_none_twice_on_reimport(imports, quiet_bus, projected):
    orders: list[Any] = [
        order_body(f"IMP-{n:04d}", placed_at=f"2024-03-{1 + n % 28:02d}T10:00:00Z") for n in range(997)
    ]
    orders.insert(100, order_body("IMP-BAD-CURRENCY", currency="XXX"))
    orders.insert(500, '{"channel": "web", "external_id": ')  # cut off
    orders.insert(900, order_body("IMP-NO-LINES", lines=[]))
    text = jsonl(orders)
    assert len(orders) == 1000

    status, started = post_file(text, "application/x-ndjson")
    assert status == 202, started
    assert started["counts"]["rows"] == 1000
    view = completed(started["import_id"])
    assert view["counts"] == {"rows": 1000, "created": 997, "exists": 0, "failed": 3}
    rows = every_row(started["import_id"])
    assert [r["row"] for r in rows] == list(range(1, 1001))  # every line of the file, once
    failed = {r["row"]: r for r in rows if r["result"] == "failed"}
    assert sorted(failed) == [101, 501, 901]
    assert "currency" in failed[101]["reason"] and failed[101]["external_id"] == "IMP-BAD-CURRENCY"
    assert failed[501]["reason"].startswith("not JSON")
    assert "lines" in failed[901]["reason"]
    created = {r["external_id"]: r["order_id"] for r in rows if r["result"] == "created"}
    assert len(created) == len(set(created.values())) == 997
    assert find_order_id("web", "IMP-0042") == created["IMP-0042"]
    record = load_order(created["IMP-0042"])
    assert record is not None and record.header["placed_at"].startswith("2024-03-15T10:00:00")

    # The same file again: every order is found, none captured a second time.
    status, again = post_file(text, "application/x-ndjson")
    assert status == 202
    view = completed(again["import_id"])
    assert view["counts"] == {"rows": 1000, "created": 0, "exists": 997, "failed": 3}
    rerows = every_row(again["import_id"])
    assert {r["external_id"]: r["order_id"] for r in rerows if r["result"] == "exists"} == created
    moto_patches.wait_for_streams()
    assert quiet_bus.count("order.captured") == 997  # one capture per order, over both imports
    assert set(created.values()) <= projected  # (a refused duplicate's lines are written, then deleted)


CSV_HEADER = (
    "channel,external_id,placed_at,currency,customer_email,customer_name,ship_line1,ship_city,ship_postal_code,"
    "ship_country,shipping_method,shipping_amount,payment_provider,payment_token,sku,quantity,unit_price,discount,tax"
)


def test_a_csv_file_has_one_order_per_external_id_and_a_result_per_order(imports):
    address = "Ada@Example.com,Ada Lovelace,1 Main St,Berlin,10115,DE,standard,495,sandbox,tok_visa"
    text = "\n".join(
        [
            CSV_HEADER,
            f"web,CSV-1,2024-02-01T09:30:00Z,EUR,{address},TSHIRT-M,2,1999,100,300",
            f"web,CSV-1,2024-02-01T09:30:00Z,EUR,{address},JEANS-32,1,4999,0,950",
            f"web,CSV-2,,EUR,{address},TSHIRT-M,two,1999,0,0",
            f"web,CSV-3,,EUR,{address},TSHIRT-M,1,1999,0,0",
        ]
    )
    status, started = post_file(text, "text/csv")
    assert status == 202, started
    view = completed(started["import_id"])
    assert view["counts"] == {"rows": 3, "created": 2, "exists": 0, "failed": 1}
    by_row = {r["row"]: r for r in view["rows"]}
    assert sorted(by_row) == [2, 4, 5]  # the line each order starts on (the header is line 1)
    assert by_row[4]["result"] == "failed" and "quantity" in by_row[4]["reason"]
    record = load_order(by_row[2]["order_id"])
    assert record is not None and len(record.lines) == 2
    # 2 x 19.99 - 1.00 + 3.00 tax + 49.99 + 9.50 tax + 4.95 shipping, to the cent.
    assert record.header["totals"]["total"] == 2 * 1999 - 100 + 300 + 4999 + 950 + 495
    assert record.header["placed_at"].startswith("2024-02-01T09:30:00")


def test_imports_belong_to_their_sender_and_bad_files_are_refused(imports):
    status, started = post_file(jsonl([order_body("OWN-1")]), "application/x-ndjson", key="dev-web-key")
    assert status == 202, started
    view = completed(started["import_id"])
    assert view["counts"]["created"] == 1
    assert get_import(started["import_id"], key="dev-app-key")[0] == 404  # another channel's import
    assert get_import(started["import_id"], key="dev-agent-key")[0] == 200
    # A channel key may import only its own channel's orders: the others fail alone.
    status, other = post_file(jsonl([order_body("APP-1", channel="app")]), "application/x-ndjson", key="dev-web-key")
    view = completed(other["import_id"])
    assert view["counts"]["failed"] == 1 and view["rows"][0]["result"] == "failed"
    assert post_file("", "text/csv")[0] == 422
    assert post_file("sku,quantity\nA,1\n", "text/csv")[0] == 422  # the header lacks columns
    assert post_file(jsonl([order_body("WMS-1")]), "application/x-ndjson", key="dev-wms-key")[0] == 403
    assert get_import("imp_nope")[0] == 404
