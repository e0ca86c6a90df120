"""Order capture through the local stack's HTTP API, with real OrderLifecycle executions."""

from __future__ import annotations

import json
import random
import time

import pytest

from demo.samples import bad_inputs, sample_order

pytestmark = pytest.mark.e2e


def _order(external_id: str, channel: str = "web"):
    body = sample_order(random.Random(external_id), channel, external_id)
    body["shipping"]["method"] = "standard"
    body["shipping"].pop("pickup_location_id", None)
    return body


def _execution(stack, order_id: str, timeout: float = 20):
    sfn = stack.aws("stepfunctions")
    (machine,) = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "oms-OrderLifecycle"]
    deadline = time.monotonic() + timeout
    while True:
        found = [
            e
            for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
            if e["name"] == order_id
        ]
        if (found and found[0]["status"] != "RUNNING") or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_capture_starts_an_execution_listed_by_the_aws_endpoint(stack, stocked):
    api = stocked
    response = api.post("/v1/orders", _order("E2E-1"))
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"]
    order = response.json()
    sfn = stack.aws("stepfunctions")
    arn = order["workflow"]["execution_arn"]
    deadline = time.monotonic() + 30
    while True:  # released to the warehouse, the execution waits on it
        fetched = api.get(f"/v1/orders/{order['order_id']}").json()
        if fetched["fulfillment_orders"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (execution,) = _execution(stack, order["order_id"], timeout=0)
    assert execution["status"] == "RUNNING"
    assert execution["executionArn"] == arn
    # Listed by the AWS endpoint: AdvanceOrder's task itself waits on the fulfillment order.
    history = sfn.get_execution_history(executionArn=arn)["events"]
    assert [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e] == [
        "AdvanceOrder"
    ]
    assert fetched["workflow"]["status"] == "RUNNING"
    kinds = [e["kind"] for e in api.get(f"/v1/orders/{order['order_id']}/timeline").json()["items"]]
    assert kinds == ["order.captured", "order.allocated", "payment.authorized", "fulfillment.released"]
    assert fetched["fulfillment_status"] == "allocated"
    assert fetched["payment_status"] == "authorized"


def test_replay_with_the_same_key_returns_the_same_order(api):
    body = _order("E2E-2")
    first = api.post("/v1/orders", body, headers={"Idempotency-Key": "e2e-2"})
    again = api.post("/v1/orders", body, headers={"Idempotency-Key": "e2e-2"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    changed = dict(body, currency="USD")
    conflict = api.post("/v1/orders", changed, headers={"Idempotency-Key": "e2e-2"})
    assert conflict.status_code == 409


def test_same_external_id_without_key_is_409_with_the_existing_id(api):
    body = _order("E2E-3")
    first = api.post("/v1/orders", body).json()
    second = api.post("/v1/orders", body)
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["order_id"] == first["order_id"]


@pytest.mark.parametrize("case", range(20))
def test_twenty_kinds_of_bad_input_get_a_4xx_problem(api, case):
    what, body = bad_inputs(_order("E2E-BAD"))[case]
    raw = body if isinstance(body, str) else json.dumps(body)
    response = api.request("POST", "/v1/orders", data=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json", what
    problem = response.json()
    assert problem["status"] == response.status_code and problem["title"] and problem["detail"]
    assert problem["errors"], what  # each names the bad field


def test_credentials(api):
    body = _order("E2E-4")
    assert api.post("/v1/orders", body, key=None).status_code == 401
    assert api.post("/v1/orders", body, key="not-a-key").status_code == 401
    assert api.post("/v1/orders", body, key="dev-wms-key").status_code == 403
    assert api.post("/v1/orders", body, key="dev-pos-key").status_code == 403
    order = api.post("/v1/orders", body).json()
    assert api.get(f"/v1/orders/{order['order_id']}", key="dev-app-key").status_code == 404
    assert api.get(f"/v1/orders/{order['order_id']}", key="dev-agent-key").status_code == 200
    assert api.get("/v1/nothing-here").status_code == 404


def test_openapi_document_and_docs_agree_with_the_contract(api):
    spec = api.get("/v1/openapi.json", key=None)
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path, method in [
        ("/v1/orders", "post"),
        ("/v1/orders", "get"),
        ("/v1/orders/{order_id}", "get"),
        ("/v1/orders/{order_id}/timeline", "get"),
        ("/v1/exceptions", "get"),
        ("/v1/exceptions/{exc_id}/retry", "post"),
        ("/v1/exceptions/{exc_id}/resolve", "post"),
    ]:
        assert method in paths[path], (path, method)
    schemas = spec.json()["components"]["schemas"]
    order_fields = set(schemas["OrderRequest"]["properties"])
    assert {
        "channel",
        "external_id",
        "customer",
        "currency",
        "lines",
        "shipping",
        "promotions",
        "payment",
    } <= order_fields
    view_fields = set(schemas["OrderView"]["properties"])
    assert {
        "status",
        "fulfillment_status",
        "payment_status",
        "totals",
        "lines",
        "fulfillment_orders",
        "shipments",
        "payments",
        "invoices",
        "credit_memos",
        "returns",
        "workflow",
    } <= view_fields
    docs = api.get("/v1/docs", key=None)
    assert docs.status_code == 200 and "/v1/orders" in docs.text
