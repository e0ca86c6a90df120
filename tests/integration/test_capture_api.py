from __future__ import annotations

import base64
import copy
import json

import boto3
import pytest

from functions.capture.handlers.api import handler
from functions.customers.api import placed_at
from functions.fulfill.store import parked_token
from shared.order.record import get_header
from shared.settings import get_settings
from shared.workflow import execution_arn, order_execution_arn
from tests.integration.conftest import api_event, call, stock_up, wait_for_fulfillment_wait, wait_for_state


def order_body(external_id: str = "W-1001", channel: str = "web", **over):
    body = {
        "channel": channel,
        "external_id": external_id,
        "customer": {"email": "Ada@Example.com", "name": "Ada Lovelace", "phone": "+44 20 7946 0000"},
        "currency": "EUR",
        "lines": [
            {"sku": "TSHIRT-M", "quantity": 2, "unit_price": 1999, "discount": 100, "tax": 300},
            {"sku": "JEANS-32", "quantity": 1, "unit_price": 4999, "tax": 950},
        ],
        "shipping": {
            "address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"},
            "method": "standard",
            "amount": 499,
        },
        "promotions": [{"code": "WELCOME10", "amount": 1000}],
        "payment": {"provider": "sandbox", "token": "tok_approve"},
    }
    body.update(over)
    return body


def post(body, key="dev-web-key", headers=None):
    return call(handler, api_event("POST", "/v1/orders", resource="/v1/orders", body=body, key=key, headers=headers))


def get(path, resource, key="dev-web-key", query=None, params=None):
    return call(handler, api_event("GET", path, resource=resource, key=key, query=query, path_parameters=params))


def test_capture_computes_totals_writes_the_order_and_starts_its_execution(aws):
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    status, headers, order = post(order_body())
    assert status == 201, order
    assert headers["x-request-id"]
    assert order["totals"] == {"subtotal": 8997, "discount": 1100, "tax": 1250, "shipping": 499, "total": 9646}
    assert [line["discount"] for line in order["lines"]] == [538, 562]
    assert order["status"] == "open" and order["payment_status"] == "pending"
    assert order["lines"][0]["quantities"]["ordered"] == 2
    arn = order["workflow"]["execution_arn"]
    assert arn.endswith(":" + order["order_id"])
    [fo] = wait_for_fulfillment_wait(order["order_id"])
    # Allocated, authorized, released to the warehouse: now it waits for the shipment, in
    # the same task (the token is parked with the fulfillment order).
    assert parked_token(fo) and wait_for_state(arn, "AdvanceOrder") == ["AdvanceOrder"]
    assert "task_token" not in fo  # kept apart, so the warehouse's writes stay small
    execution = boto3.client("stepfunctions").describe_execution(executionArn=arn)
    assert execution["status"] == "RUNNING"
    assert execution["name"] == order["order_id"]

    status, _, fetched = get(
        f"/v1/orders/{order['order_id']}", "/v1/orders/{order_id}", params={"order_id": order["order_id"]}
    )
    assert status == 200
    assert fetched["totals"] == order["totals"]
    assert [(line["line_id"], line["total"]) for line in fetched["lines"]] == [
        (line["line_id"], line["total"]) for line in order["lines"]
    ]
    assert fetched["workflow"]["status"] == "RUNNING"
    assert fetched["fulfillment_status"] == "allocated"
    assert fetched["payment_status"] == "authorized"
    assert fetched["payment_summary"]["authorized"] == order["totals"]["total"]
    (fo,) = fetched["fulfillment_orders"]
    assert fo["status"] == "allocated" and fo["location_id"] == "wh-berlin"
    assert all(line["quantities"]["allocated"] == line["quantity"] for line in fetched["lines"])
    assert all(line["status"] == "allocated" for line in fetched["lines"])

    status, _, timeline = get(
        f"/v1/orders/{order['order_id']}/timeline",
        "/v1/orders/{order_id}/timeline",
        params={"order_id": order["order_id"]},
    )
    assert [e["kind"] for e in timeline["items"]] == [
        "order.captured",
        "order.allocated",
        "payment.authorized",
        "fulfillment.released",
    ]


def test_the_header_stores_nothing_a_reader_can_derive(aws):
    """The execution named by the order id, the capture time as ``placed_at`` and a missing
    phone are not stored (each header write costs a unit per started KB); the view still
    shows the execution's ARN, and the read models the capture time as the placing time."""
    body = order_body()
    body["customer"].pop("phone")
    status, _, order = post(body)
    assert status == 201, order
    header = get_header(order["order_id"])
    assert header is not None
    assert header["workflow"] == {"status": "RUNNING"}
    assert "placed_at" not in header and "phone" not in header["customer"]
    assert placed_at(header) == header["created_at"]
    expected = execution_arn(get_settings().order_lifecycle_arn, order["order_id"])
    assert order["workflow"]["execution_arn"] == expected
    status, _, fetched = get(
        f"/v1/orders/{order['order_id']}", "/v1/orders/{order_id}", params={"order_id": order["order_id"]}
    )
    assert status == 200 and fetched["workflow"]["execution_arn"] == expected
    # Another execution (a retry's) is recorded, and then named.
    assert order_execution_arn("ord_x", {"status": "RUNNING", "execution_arn": "arn:x"}) == "arn:x"
    assert order_execution_arn("ord_x", {}) is None


def test_customer_is_matched_by_email_case_insensitively(aws):
    _, _, first = post(order_body("W-1"))
    body = order_body("W-2")
    body["customer"]["email"] = "ada@example.COM"
    _, _, second = post(body)
    assert first["customer_id"] == second["customer_id"]


def test_idempotency_key_replays_and_refuses_another_body(aws):
    key = {"Idempotency-Key": "abc-123"}
    s1, _, first = post(order_body(), headers=key)
    s2, _, replay = post(order_body(), headers=key)
    assert (s1, s2) == (201, 201)
    assert replay["order_id"] == first["order_id"]
    other = order_body()
    other["lines"][0]["quantity"] = 3
    s3, h3, problem = post(other, headers=key)
    assert s3 == 409 and h3["Content-Type"] == "application/problem+json"
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=aws.state_machines["OrderLifecycle"])
    assert len(executions["executions"]) == 1


def test_same_external_id_without_key_is_409_naming_the_order(aws):
    _, _, first = post(order_body())
    status, _, problem = post(order_body())
    assert status == 409
    assert problem["order_id"] == first["order_id"]
    assert first["order_id"] in problem["errors"][0]["message"]
    # The refused order's lines, written before its header, are gone again.
    scanned = boto3.client("dynamodb").scan(TableName=get_settings().table_name)["Items"]
    owners = {i["pk"]["S"] for i in scanned if i.get("type", {}).get("S") == "line"}
    assert owners == {f"ORDER#{first['order_id']}"}
    # another channel may reuse the number
    status, _, _ = post(order_body(channel="pos"), key="dev-pos-key")
    assert status == 201


def test_channel_scoping_and_roles(aws):
    _, _, order = post(order_body())
    path, resource, params = f"/v1/orders/{order['order_id']}", "/v1/orders/{order_id}", {"order_id": order["order_id"]}
    assert get(path, resource, key="dev-pos-key", params=params)[0] == 404
    assert get(path, resource, key="dev-agent-key", params=params)[0] == 200
    assert get(path, resource, key="dev-wms-key", params=params)[0] == 403
    assert post(order_body("W-9"), key="dev-pos-key")[0] == 403  # body names another channel
    assert post(order_body("W-9"), key="dev-wms-key")[0] == 403
    assert post(order_body("W-9"), key=None)[0] == 401
    assert get("/v1/orders/ord_nope", resource, key="dev-ops-key", params={"order_id": "ord_nope"})[0] == 404


def test_list_filters_and_cursor(aws):
    for i in range(5):
        assert post(order_body(f"W-{i}"))[0] == 201
    assert post(order_body("P-1", channel="pos"), key="dev-pos-key")[0] == 201
    seen = []
    cursor = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, _, page = get("/v1/orders", "/v1/orders", query=query)
        assert status == 200
        seen += [o["external_id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"W-{i}" for i in range(5)]  # the web key sees no pos order
    assert seen == sorted(seen, reverse=True)  # newest first
    _, _, ops_all = get("/v1/orders", "/v1/orders", key="dev-ops-key", query={"limit": "200"})
    assert len(ops_all["items"]) == 6
    _, _, pos_only = get("/v1/orders", "/v1/orders", key="dev-ops-key", query={"channel": "pos"})
    assert [o["external_id"] for o in pos_only["items"]] == ["P-1"]
    customer = ops_all["items"][0]["customer_id"]
    _, _, by_customer = get("/v1/orders", "/v1/orders", key="dev-ops-key", query={"customer_id": customer})
    assert len(by_customer["items"]) == 6
    _, _, open_only = get("/v1/orders", "/v1/orders", key="dev-ops-key", query={"status": "cancelled"})
    assert open_only["items"] == []
    assert get("/v1/orders", "/v1/orders", query={"cursor": "garbage!"})[0] == 400
    assert get("/v1/orders", "/v1/orders", query={"created_after": "yesterday"})[0] == 422
    assert get("/v1/orders", "/v1/orders", query={"limit": "500"})[0] == 422


@pytest.mark.slow
def test_an_order_of_2000_lines(aws):
    body = order_body("BIG-1")
    body["lines"] = [{"sku": f"SKU-{i}", "quantity": 1 + i % 3, "unit_price": 100 + i, "tax": 7} for i in range(2000)]
    status, _, order = post(body)
    assert status == 201, order
    assert len(order["lines"]) == 2000
    status, _, fetched = get(
        f"/v1/orders/{order['order_id']}", "/v1/orders/{order_id}", params={"order_id": order["order_id"]}
    )
    assert status == 200 and len(fetched["lines"]) == 2000
    assert sum(line["total"] + line["shipping"] for line in fetched["lines"]) == fetched["totals"]["total"]
    body["lines"].append(copy.deepcopy(body["lines"][0]))
    body["external_id"] = "BIG-2"
    status, _, problem = post(body)
    assert status == 422 and problem["errors"][0]["field"] == "lines"


def test_malformed_json_is_400_problem(aws):
    status, headers, problem = call(handler, api_event("POST", "/v1/orders", resource="/v1/orders", body="{not json"))
    assert status == 400 and headers["Content-Type"] == "application/problem+json"
    assert problem["status"] == 400 and problem["title"]
    status, _, problem = call(handler, api_event("POST", "/v1/orders", resource="/v1/orders", body=json.dumps([1])))
    assert status == 400


@pytest.mark.parametrize(
    ("body", "encoded"),
    [
        (base64.b64encode(b"\xff\xfe").decode(), True),  # not UTF-8, as API Gateway passes binary
        ("!!not base64!!", True),
        ("[" * 2000 + "]" * 2000, False),  # past the JSON parser's recursion limit
        ('{"a":' * 2000 + "1" + "}" * 2000, False),
        ("\ud800", False),  # a lone surrogate
    ],
)
def test_a_body_the_json_parser_chokes_on_is_a_400_problem(aws, body, encoded):
    event = api_event("POST", "/v1/orders", resource="/v1/orders", body=body)
    event["isBase64Encoded"] = encoded
    status, headers, problem = call(handler, event)
    assert status == 400, problem
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["status"] == 400 and problem["errors"][0]["field"] == "body"


def test_an_unreadable_body_is_a_400_where_the_handler_reads_it_itself(aws):
    from functions.fulfill.handlers.api import handler as fulfillment

    event = api_event(
        "POST",
        "/v1/fulfillment-orders/fo_x/reject",
        resource="/v1/fulfillment-orders/{fo_id}/reject",
        body=base64.b64encode(b"\xff\xfe").decode(),
        key="dev-wms-key",
        path_parameters={"fo_id": "fo_x"},
    )
    event["isBase64Encoded"] = True
    status, headers, problem = call(fulfillment, event)
    assert status == 400, problem
    assert headers["Content-Type"] == "application/problem+json"
