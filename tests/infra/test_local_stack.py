"""The local stack: moto's Lambda runs our handlers, the HTTP API, triggers, Step Functions.

The small handlers below are addressed by their dotted path
(``tests.infra.test_local_stack.<name>``), as a manifest handler string would be.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws

from functions.lifecycle.rules.steps import SeveralFulfillmentOrders
from infra import manifest
from infra.local import lambda_adapter, moto_patches, provision, requests_meter, runtime
from infra.local.http_api import Api, HttpApi
from infra.local.stack import LocalStack
from infra.manifest import FunctionSpec, Route
from tests.infra.stack_functions import HERE, calls


# Generous: a first invocation starts an execution environment, slow on a busy machine.
def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


# --- the adapter ------------------------------------------------------------------------


def fake_function(handler: str, timeout: int = 10) -> Any:
    return SimpleNamespace(
        handler=f"{HERE}.{handler}",
        function_name="oms-Test",
        version="$LATEST",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:oms-Test",
        memory_size=128,
        timeout=timeout,
        region="us-east-1",
        account_id="123456789012",
    )


def test_adapter_returns_the_handler_result_as_json() -> None:
    payload, errored, logs = lambda_adapter.invoke(fake_function("echo"), '{"a": 1}')
    assert not errored
    assert json.loads(payload) == {"echo": {"a": 1}, "function_name": "oms-Test"}
    assert logs.startswith("START RequestId: ")


def test_adapter_context_serves_powertools() -> None:
    payload, errored, _ = lambda_adapter.invoke(fake_function("powertools_echo"), {})
    assert not errored, payload
    result = json.loads(payload)
    assert re.fullmatch(r"[0-9a-f-]{36}", result["request_id"])
    assert 9000 < result["remaining"] <= 10000


def test_adapter_maps_an_exception_to_the_runtime_error_payload() -> None:
    payload, errored, _ = lambda_adapter.invoke(fake_function("always_retryable"), {})
    assert errored
    error = json.loads(payload)
    assert error["errorType"] == "RetryableError"
    assert error["errorMessage"] == "inventory service busy"
    assert any("always_retryable" in frame for frame in error["stackTrace"])
    assert not any("infra/local" in frame for frame in error["stackTrace"])


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        ("no_such_handler", "Runtime.HandlerNotFound"),
        ("not_json", "Runtime.MarshalError"),
    ],
)
def test_adapter_reports_runtime_errors(handler: str, error_type: str) -> None:
    payload, errored, _ = lambda_adapter.invoke(fake_function(handler), {})
    assert errored
    assert json.loads(payload)["errorType"] == error_type


def test_adapter_reports_an_unimportable_module() -> None:
    fn = fake_function("echo")
    fn.handler = "functions.does_not_exist.handler"
    payload, errored, _ = lambda_adapter.invoke(fn, {})
    assert errored
    assert json.loads(payload)["errorType"] == "Runtime.ImportModuleError"


def test_assert_moto_compatible_passes_on_the_pinned_moto() -> None:
    lambda_adapter.assert_moto_compatible()


def test_assert_moto_compatible_fails_loudly_when_moto_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    def _invoke_lambda(self: Any, payload: str, context: Any = None) -> tuple[str, bool, str]:
        raise NotImplementedError

    monkeypatch.setattr(lambda_adapter, "_ORIGINAL", _invoke_lambda)
    with pytest.raises(AssertionError, match=r"moto \d+\.\d+\.\d+.*_invoke_lambda"):
        lambda_adapter.assert_moto_compatible()


# --- provisioning -----------------------------------------------------------------------


def test_provision_builds_the_manifest_inside_mock_aws() -> None:
    with mock_aws():
        res = provision.provision()
        lam = boto3.client("lambda", region_name="us-east-1")
        functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
        assert set(functions) == {f"oms-{spec.name}" for spec in manifest.FUNCTIONS}
        for spec in manifest.FUNCTIONS:
            config = functions[f"oms-{spec.name}"]
            assert config["Handler"] == spec.handler
            assert config["Architectures"] == ["arm64"]
            assert set(config.get("Environment", {}).get("Variables", {})) == manifest.environment_keys(spec)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        for sm in manifest.STATE_MACHINES:
            definition = sfn.describe_state_machine(stateMachineArn=res.state_machines[sm.name])["definition"]
            assert "${" not in definition
            for fn in sm.substitutions.values():
                assert res.functions[fn] in definition
        secret = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
            SecretId=res.api_keys_secret_id
        )
        assert len(json.loads(secret["SecretString"])["keys"]) >= 1
        assert res.environment()["ORDER_LIFECYCLE_ARN"] == res.state_machines["OrderLifecycle"]


def test_state_machine_env_key() -> None:
    assert provision.state_machine_env_key("OrderLifecycle") == "ORDER_LIFECYCLE_ARN"


# --- the HTTP API, with test routes -------------------------------------------------------


def _spec(name: str, handler: str, timeout: int = 10) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"{HERE}.{handler}", description=name, timeout_seconds=timeout)


TEST_FUNCTIONS = (
    _spec("Echo", "api_echo"),
    _spec("Binary", "api_binary"),
    _spec("Crash", "crash"),
    _spec("Slow", "api_slow", timeout=1),
    _spec("Malformed", "api_malformed"),
    _spec("Fallback", "api_fallback"),
)
TEST_ROUTES = (
    Route("GET", "/v1/things/{thing_id}", "Echo"),
    Route("POST", "/v1/things/{thing_id}", "Echo"),
    Route("GET", "/v1/things/special", "Binary", authorized=False),
    Route("POST", "/v1/open", "Echo", authorized=False),
    Route("GET", "/v1/nested", "Echo"),
    Route("GET", "/v1/crash", "Crash", authorized=False),
    Route("GET", "/v1/slow", "Slow", authorized=False),
    Route("GET", "/v1/malformed", "Malformed", authorized=False),
)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = HttpApi(Api(TEST_ROUTES, TEST_FUNCTIONS, default_function="Fallback"), port=0).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def api_without_default() -> Iterator[str]:
    server = HttpApi(Api(TEST_ROUTES, TEST_FUNCTIONS, default_function=None), port=0).start()
    yield server.url
    server.stop()


def test_api_builds_the_rest_proxy_event(api: str) -> None:
    r = requests.post(
        f"{api}/v1/things/t%201?tag=a&tag=b&q=x",
        headers={"x-api-key": "k-1", "X-Multi": "1"},
        data='{"n": 1}',
        timeout=5,
    )
    assert r.status_code == 200, r.text
    event = r.json()
    assert event["resource"] == "/v1/things/{thing_id}"
    assert event["path"] == "/v1/things/t%201"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"thing_id": "t 1"}
    assert event["queryStringParameters"] == {"tag": "b", "q": "x"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["x"]}
    assert event["headers"]["X-Multi"] == "1"
    assert event["multiValueHeaders"]["X-Multi"] == ["1"]
    assert event["body"] == '{"n": 1}'
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["stage"] == "$default"
    assert ctx["routeKey"] == "POST /v1/things/{thing_id}"
    assert ctx["resourcePath"] == "/v1/things/{thing_id}"
    assert ctx["httpMethod"] == "POST"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert abs(ctx["requestTimeEpoch"] / 1000 - time.time()) < 60
    assert ctx["requestId"] == r.headers["x-request-id"]
    # No authorizer: the key reaches the function as it was sent, which checks it.
    assert "authorizer" not in ctx
    assert event["headers"]["x-api-key"] == "k-1"


def test_api_passes_a_binary_request_body_base64_encoded(api: str) -> None:
    r = requests.post(f"{api}/v1/open", data=b"\xff\xfe", timeout=5)
    event = r.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"
    assert "authorizer" not in event["requestContext"]


def test_api_prefers_literal_path_segments(api: str) -> None:
    r = requests.get(f"{api}/v1/things/special", timeout=5)
    assert r.status_code == 201
    assert r.content == b"\x00\x01"
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def problem(r: requests.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert r.headers["x-request-id"]
    return body


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/v1/crash", {}, 502),
        ("GET", "/v1/malformed", {}, 502),
        ("GET", "/v1/slow", {}, 504),
    ],
)
def test_api_errors_are_problem_json(api: str, method: str, path: str, headers: dict[str, str], status: int) -> None:
    body = problem(requests.request(method, api + path, headers=headers, timeout=5), status)
    if status == 502:
        assert body["title"] == "Bad gateway"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/nowhere"), ("DELETE", "/v1/things/t1"), ("PUT", "/v1/things/special")],
)
def test_api_sends_what_no_route_takes_to_the_default_route(api: str, method: str, path: str) -> None:
    r = requests.request(method, api + path, timeout=5)
    assert r.status_code == 404
    event = r.json()
    assert event["path"] == path and event["httpMethod"] == method
    assert event["requestContext"]["routeKey"] == "$default"


def test_api_matches_the_route_of_the_method_before_the_literal_path(api: str) -> None:
    # A route key is method and path: POST /v1/things/special is POST /v1/things/{thing_id}.
    r = requests.post(f"{api}/v1/things/special", timeout=5)
    assert r.status_code == 200
    assert r.json()["pathParameters"] == {"thing_id": "special"}


def test_api_without_a_default_route_answers_404(api_without_default: str) -> None:
    problem(requests.get(f"{api_without_default}/v1/nowhere", timeout=5), 404)


# --- the whole stack ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(moto_port=0, api_port=0) as s:
        print(f"local stack startup: {s.startup_seconds:.2f} s")
        yield s


@pytest.fixture
def override() -> Iterator[Callable[[str, Callable[..., Any]], None]]:
    """Serve a manifest function with a test handler for one test."""
    replaced: list[str] = []

    def replace(function: str, handler: Callable[..., Any]) -> None:
        runtime.override(manifest.function(function).handler, handler)
        replaced.append(manifest.function(function).handler)

    yield replace
    for handler in replaced:
        runtime.override(handler, None)


def test_stack_starts_on_free_ports(stack: LocalStack) -> None:
    # How fast it starts is a benchmark figure (make bench: local_stack_startup_s), not a test.
    assert stack.moto_port != 4566 and stack.api_port != 3000
    assert stack.resources is not None
    import os

    for key, value in stack.resources.environment().items():
        assert os.environ[key] == value
    assert os.environ["MOTO_PORT"] == str(stack.moto_port)
    assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint_url


def test_the_running_stack_keeps_what_it_built_out_of_garbage_collections(stack: LocalStack) -> None:
    """The emulator's long-lived heap is frozen at start and young objects are collected less
    often (how much CPU that saves is a benchmark figure, not a test)."""
    import gc

    from infra.local import stack as stack_module

    assert gc.get_threshold() == stack_module._GC_THRESHOLDS
    assert gc.get_freeze_count() > 10_000


def test_stack_refuses_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(OSError, match="in use"):
            LocalStack(moto_port=busy.getsockname()[1], api_port=0).start()


def test_only_one_stack_per_process(stack: LocalStack) -> None:
    with pytest.raises(RuntimeError, match="already runs"):
        LocalStack(moto_port=0, api_port=0).start()
    assert lambda_adapter.installed()  # the running stack is untouched


def test_emulator_counts_each_request_by_the_function_that_made_it(stack: LocalStack) -> None:
    # Handlers run in worker processes: the count is taken where their requests arrive.
    assert stack.resources is not None
    arn = _function(stack, "test-read-table", "read_table")
    counts = f"{stack.endpoint_url}{requests_meter.PATH}"
    requests.delete(counts, timeout=5).raise_for_status()
    seen: list[tuple[str, str, str, Any]] = []
    requests_meter.listen(lambda service, op, caller, params, answer: seen.append((service, op, caller, params)))
    try:
        payload = {"table": stack.resources.table_name}
        response = stack.client("lambda").invoke(FunctionName=arn, Payload=json.dumps(payload).encode())
        assert json.loads(response["Payload"].read()) == {"ok": True}
    finally:
        requests_meter._listeners.clear()
    by_caller = requests.get(counts, timeout=5).json()["by_caller"]
    assert by_caller["test-read-table dynamodb.GetItem"] == 2
    assert by_caller[f"{requests_meter.OUTSIDE} lambda.Invoke"] == 1  # this test's own call
    gets = [s for s in seen if s[:3] == ("dynamodb", "GetItem", "test-read-table")]
    assert len(gets) == 2 and gets[0][3]["TableName"] == stack.resources.table_name


def test_an_event_reaches_its_environment_without_being_written_as_json(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pipe carries the value; the JSON text of a stream batch cost both sides CPU.
    arn = _function(stack, "test-event-pipe", "echo")
    event = {"Records": [{"body": "x" * 100}], "n": 1.5, "none": None, "nested": {"list": [1, "two", False]}}
    written: list[Any] = []
    dumps = json.dumps

    def dumps_seen(value: Any, *args: Any, **kwargs: Any) -> str:
        written.append(value)
        return dumps(value, *args, **kwargs)

    monkeypatch.setattr(json, "dumps", dumps_seen)
    answer = stack.client("lambda").invoke(FunctionName=arn, Payload=dumps(event).encode())
    assert json.loads(answer["Payload"].read())["echo"] == event
    assert event not in written


def test_environments_send_the_credential_scope_without_a_signature(stack: LocalStack) -> None:
    # moto reads the account and region from the scope and never checks the signature,
    # which was a third of a small request's CPU in the SDK.
    assert stack.resources is not None
    arn = _function(stack, "test-authorization", "authorization_sent")
    payload = json.dumps({"table": stack.resources.table_name}).encode()
    answer = json.loads(stack.client("lambda").invoke(FunctionName=arn, Payload=payload)["Payload"].read())
    assert answer["found"] is False
    (authorization,) = answer["authorization"]
    assert re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=\w+/\d{8}/us-east-1/dynamodb/aws4_request,"
        r" SignedHeaders=host;x-amz-date, Signature=0{64}",
        authorization,
    ), authorization


def test_queries_read_their_partition_and_indexes_keep_their_order(stack: LocalStack) -> None:
    # The emulator's query starts from the partition (moto_patches 9): same answers as DynamoDB.
    assert stack.resources is not None
    ddb, table = stack.client("dynamodb"), stack.resources.table_name
    for pk in ("QTEST#a", "QTEST#b"):
        for n in (3, 1, 2):
            item = {"pk": {"S": pk}, "sk": {"S": f"LINE#{n}"}, "gsi1pk": {"S": "QTEST#index"}}
            ddb.put_item(TableName=table, Item={**item, "gsi1sk": {"S": f"{n}#{pk}"}})
    # Another partition of the same index, and an item the index does not hold.
    ddb.put_item(
        TableName=table,
        Item={"pk": {"S": "QTEST#c"}, "sk": {"S": "LINE#1"}, "gsi1pk": {"S": "QTEST#other"}, "gsi1sk": {"S": "1"}},
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "QTEST#d"}, "sk": {"S": "LINE#1"}})

    def keys(**query: Any) -> list[tuple[str, str]]:
        items = ddb.query(TableName=table, **query)["Items"]
        return [(i["pk"]["S"], i["sk"]["S"]) for i in items]

    partition = {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "QTEST#a"}}}
    assert keys(**partition) == [("QTEST#a", f"LINE#{n}") for n in (1, 2, 3)]
    assert keys(**partition, ScanIndexForward=False, Limit=2) == [("QTEST#a", "LINE#3"), ("QTEST#a", "LINE#2")]
    ranged = {
        "KeyConditionExpression": "pk = :pk AND sk > :sk",
        "ExpressionAttributeValues": {":pk": {"S": "QTEST#b"}, ":sk": {"S": "LINE#1"}},
    }
    assert keys(**ranged) == [("QTEST#b", "LINE#2"), ("QTEST#b", "LINE#3")]
    nothing = {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "QTEST#none"}}}
    assert keys(**nothing) == []
    index = {
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "QTEST#index"}},
    }
    assert keys(**index) == [(pk, f"LINE#{n}") for n in (1, 2, 3) for pk in ("QTEST#a", "QTEST#b")]
    first = ddb.query(TableName=table, Limit=4, **index)
    rest = ddb.query(TableName=table, ExclusiveStartKey=first["LastEvaluatedKey"], **index)
    paged = [(i["pk"]["S"], i["sk"]["S"]) for i in first["Items"] + rest["Items"]]
    assert paged == [(pk, f"LINE#{n}") for n in (1, 2, 3) for pk in ("QTEST#a", "QTEST#b")]
    other = {**index, "ExpressionAttributeValues": {":pk": {"S": "QTEST#other"}}}
    assert keys(**other) == [("QTEST#c", "LINE#1")]
    scanned = ddb.scan(
        TableName=table, FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": {"S": "QTEST#"}}
    )["Items"]
    assert len(scanned) == 8


def test_index_queries_follow_every_kind_of_write(stack: LocalStack) -> None:
    # moto_patches 9: an index query starts from the keys kept per index partition value,
    # which each write updates through the stream; the answers are those of a whole scan.
    from moto.dynamodb.models import dynamodb_backends

    assert stack.resources is not None
    ddb, table = stack.client("dynamodb"), stack.resources.table_name

    def item(pk: str, partition: str | None, n: int = 1) -> dict[str, Any]:
        out: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": "X"}, "n": {"N": str(n)}}
        if partition is not None:
            out |= {"gsi1pk": {"S": partition}, "gsi1sk": {"S": pk}}
        return out

    def key(pk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": "X"}}

    def indexed(partition: str) -> list[str]:  # the index projects keys only
        items = ddb.query(
            TableName=table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": partition}},
        )["Items"]
        return [i["pk"]["S"] for i in items]

    def scanned(partition: str) -> list[str]:
        items = ddb.scan(
            TableName=table, FilterExpression="gsi1pk = :p", ExpressionAttributeValues={":p": {"S": partition}}
        )["Items"]
        return sorted(i["pk"]["S"] for i in items)

    def agree() -> None:
        for partition in ("IXW#red", "IXW#blue"):
            assert indexed(partition) == scanned(partition), partition

    ddb.put_item(TableName=table, Item=item("IXW#1", "IXW#red"))
    ddb.put_item(TableName=table, Item=item("IXW#2", "IXW#red"))
    assert indexed("IXW#red") == ["IXW#1", "IXW#2"]  # built here, from the items already written
    backend = dynamodb_backends[stack.resources.account_id][stack.region]
    assert "_index_partitions" in backend.tables[table].__dict__
    ddb.put_item(TableName=table, Item=item("IXW#3", "IXW#blue"))  # a new item
    ddb.put_item(TableName=table, Item=item("IXW#1", "IXW#blue", 2))  # replaced, into the other partition
    agree()
    ddb.update_item(  # moved back by an update
        TableName=table,
        Key=key("IXW#1"),
        UpdateExpression="SET gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": "IXW#red"}},
    )
    ddb.update_item(TableName=table, Key=key("IXW#2"), UpdateExpression="REMOVE gsi1pk")  # out of the index
    ddb.update_item(  # created by an update
        TableName=table,
        Key=key("IXW#4"),
        UpdateExpression="SET gsi1pk = :p, gsi1sk = :s, n = :n",
        ExpressionAttributeValues={":p": {"S": "IXW#blue"}, ":s": {"S": "IXW#4"}, ":n": {"N": "4"}},
    )
    agree()
    assert indexed("IXW#red") == ["IXW#1"] and indexed("IXW#blue") == ["IXW#3", "IXW#4"]
    ddb.delete_item(TableName=table, Key=key("IXW#3"))
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": item("IXW#5", "IXW#red", 5)}},
            {"Delete": {"TableName": table, "Key": key("IXW#1")}},
            {
                "Update": {
                    "TableName": table,
                    "Key": key("IXW#4"),
                    "UpdateExpression": "SET gsi1pk = :p",
                    "ExpressionAttributeValues": {":p": {"S": "IXW#red"}},
                }
            },
        ]
    )
    with pytest.raises(ClientError):  # refused as a whole: no partition changes
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": item("IXW#6", "IXW#blue")}},
                {
                    "Delete": {
                        "TableName": table,
                        "Key": key("IXW#5"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    ddb.batch_write_item(
        RequestItems={
            table: [{"PutRequest": {"Item": item("IXW#7", "IXW#blue", 7)}}, {"DeleteRequest": {"Key": key("IXW#4")}}]
        }
    )
    agree()
    assert indexed("IXW#red") == ["IXW#5"] and indexed("IXW#blue") == ["IXW#7"]


def test_projected_queries_leave_the_stored_items_whole(stack: LocalStack) -> None:
    # moto_patches 18 answers a query from the table's own items, not copies of them.
    assert stack.resources is not None
    ddb, table = stack.client("dynamodb"), stack.resources.table_name
    key = {"pk": {"S": "PROJTEST#a"}, "sk": {"S": "ONE"}}
    whole = {**key, "gsi1pk": {"S": "PROJTEST#index"}, "gsi1sk": {"S": "1"}, "kept": {"M": {"x": {"N": "1"}}}}
    ddb.put_item(TableName=table, Item=whole)
    projected = ddb.query(
        TableName=table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "PROJTEST#index"}},
        ProjectionExpression="pk, gsi1sk",
    )["Items"]
    assert projected == [{"pk": {"S": "PROJTEST#a"}, "gsi1sk": {"S": "1"}}]
    nested = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "PROJTEST#a"}},
        ProjectionExpression="kept.x",
    )["Items"]
    assert nested == [{"kept": {"M": {"x": {"N": "1"}}}}]
    assert ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"] == whole


def test_the_aws_endpoint_keeps_connections_alive(stack: LocalStack) -> None:
    # moto_patches 5: one connection serves request after request, whether or not moto
    # reads the request's body (werkzeug's server closed every connection after one).
    import http.client

    assert stack.resources is not None
    connection = http.client.HTTPConnection("127.0.0.1", stack.moto_port, timeout=10)
    get_item = json.dumps({"TableName": stack.resources.table_name, "Key": {"pk": {"S": "KA"}, "sk": {"S": "KA"}}})
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.GetItem",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    sockets = []
    for method, path, body, sent in (
        ("POST", "/", get_item, headers),
        ("POST", requests_meter.PATH, "an unread body", {}),
        ("POST", "/", get_item, headers),
    ):
        connection.request(method, path, body, sent)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        assert not response.will_close and response.getheader("Connection") != "close"
        sockets.append(connection.sock)
    assert sockets[0] is not None and sockets[0] is sockets[1] is sockets[2]
    connection.close()


def test_function_environments_reach_the_emulator_over_its_socket(stack: LocalStack) -> None:
    # wire: the SDK in an environment sends to the emulator's Unix socket, not over HTTP.
    assert stack.resources is not None and stack.socket_server is not None
    arn = _function(stack, "test-read-over-socket", "read_table")
    before = stack.socket_server.served
    response = stack.client("lambda").invoke(
        FunctionName=arn, Payload=json.dumps({"table": stack.resources.table_name}).encode()
    )
    assert json.loads(response["Payload"].read()) == {"ok": True}
    assert stack.socket_server.served - before >= 2  # the function's two GetItems


@pytest.mark.parametrize(
    "key", [{"pk": {"S": "WIRE"}, "sk": {"S": "WIRE"}}, {"pk": {"S": "WIRE"}}], ids=["found", "invalid key"]
)
def test_the_emulator_answers_over_its_socket_as_over_http(stack: LocalStack, key: dict[str, Any]) -> None:
    from botocore.httpsession import URLLib3Session

    from infra.local import wire
    from tests.infra.test_wire import prepared_request

    assert stack.resources is not None and stack.socket_server is not None
    table = stack.resources.table_name
    stack.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": "WIRE"}, "sk": {"S": "WIRE"}, "n": {"N": "1"}})
    request = prepared_request(
        "dynamodb", stack.endpoint_url, "get_item", TableName=table, Key=key, ConsistentRead=True
    )
    by_http = URLLib3Session().send(request)
    by_socket = wire.send(stack.socket_server.path, request, timeout=10)
    assert by_socket.status_code == by_http.status_code
    assert json.loads(by_socket.content) == json.loads(by_http.content)
    assert by_socket.headers["Content-Type"] == by_http.headers["Content-Type"]


def test_items_are_answered_as_moto_answers_them_without_its_slow_path(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Patch 19: an item's attributes (moto's ``LimitedSizeDict``) take the direct conversion."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    stored: dict[str, Any] = {
        "pk": {"S": "ORDER#1"},
        "total": {"N": "14665"},
        "lines": {"L": [{"M": {"sku": {"S": "TEE-M"}, "qty": {"N": "2"}, "tags": {"SS": ["a", "b"]}}}]},
        "paid": {"BOOL": True},
        "note": {"NULL": True},
        "totals": {"M": {"net": {"N": "100"}, "currency": {"S": "EUR"}}},
    }
    item = Item(hash_key=DynamoType(stored["pk"]), range_key=None, attrs=stored)
    expected = moto_patches._ORIGINAL_TO_DICT(item.attrs)
    slow_calls: list[Any] = []
    original = moto_patches._ORIGINAL_TO_DICT

    def slow_path(value: Any) -> Any:
        slow_calls.append(value)
        return original(value)

    monkeypatch.setattr(moto_patches, "_ORIGINAL_TO_DICT", slow_path)
    assert moto_patches._to_dict(item.attrs) == expected
    assert slow_calls == []


def test_an_item_over_the_size_limit_is_refused_as_moto_refuses_it(stack: LocalStack) -> None:
    # Counted once for the whole item instead of once per attribute (patch 24): the same
    # items pass and the same fail, at the same byte.
    assert stack.resources is not None
    ddb, table = stack.client("dynamodb"), stack.resources.table_name
    keys_size = len("pk") + len("TEST#SIZE") + len("sk") + len("A") + len("big")
    for fill, accepted in ((405_000 - keys_size, True), (405_000 - keys_size + 1, False)):
        item = {"pk": {"S": "TEST#SIZE"}, "sk": {"S": "A"}, "big": {"S": "x" * fill}}
        if accepted:
            ddb.put_item(TableName=table, Item=item)
        else:
            with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
                ddb.put_item(TableName=table, Item=item)
    ddb.delete_item(TableName=table, Key={"pk": {"S": "TEST#SIZE"}, "sk": {"S": "A"}})


def test_a_condition_lexed_once_still_takes_each_requests_values(stack: LocalStack) -> None:
    """Patch 21: the tokens of a condition are kept; its names and values are the request's."""
    assert stack.resources is not None
    ddb = stack.client("dynamodb")
    table = stack.resources.table_name
    key = {"pk": {"S": "LEXED#1"}, "sk": {"S": "v"}}
    ddb.put_item(TableName=table, Item={**key, "version": {"N": "1"}})
    condition = "#v = :v AND attribute_exists(pk)"

    def bump(expected: int) -> bool:
        try:
            ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #v = #v + :one",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": {"N": str(expected)}, ":one": {"N": "1"}},
            )
        except ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    assert [bump(1), bump(1), bump(2), bump(5)] == [True, False, True, False]
    assert condition in moto_patches._condition_tokens
    with pytest.raises(ClientError):  # an expression that does not lex is still refused
        ddb.put_item(TableName=table, Item=key, ConditionExpression="version ! 1")


def test_update_expressions_apply_on_the_copied_syntax_tree(stack: LocalStack) -> None:
    # moto_patches 10 copies the expression's tree itself: every kind of action still applies.
    assert stack.resources is not None
    ddb, table = stack.client("dynamodb"), stack.resources.table_name
    key = {"pk": {"S": "UPDTEST"}, "sk": {"S": "ONE"}}
    start = {"n": {"N": "1"}, "gone": {"S": "x"}, "tags": {"SS": ["a", "b"]}, "m": {"M": {"l": {"L": [{"N": "1"}]}}}}
    ddb.put_item(TableName=table, Item={**key, **start})
    for _ in range(2):  # the same expression twice: the first run must not have changed the parsed tree
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET n = n + :one, #m.l[0] = if_not_exists(absent, :z), fresh = :z "
            "REMOVE gone ADD #c :one DELETE tags :a",
            ExpressionAttributeNames={"#m": "m", "#c": "counter"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":z": {"S": "z"}, ":a": {"SS": ["a"]}},
        )
    item = ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "3"} and item["counter"] == {"N": "2"}
    assert item["m"] == {"M": {"l": {"L": [{"S": "z"}]}}} and item["fresh"] == {"S": "z"}
    assert "gone" not in item and item["tags"] == {"SS": ["b"]}
    # Each validator still finds the nodes it judges (patch 13 looks up which one takes a node).
    for expression, values in (
        ("SET pk = :z", {":z": {"S": "z"}}),  # a key attribute
        ("SET n = :one, n = :z", {":one": {"N": "1"}, ":z": {"S": "z"}}),  # two actions on one path
        ("SET n = n + :z", {":z": {"S": "z"}}),  # arithmetic on a string
        ("SET n = :absent", {":z": {"S": "z"}}),  # a value the request does not give
        ("SET fresh = list_append(:z, :z)", {":z": {"S": "z"}}),  # a function on the wrong type
    ):
        with pytest.raises(ClientError) as refused:
            ddb.update_item(TableName=table, Key=key, UpdateExpression=expression, ExpressionAttributeValues=values)
        assert refused.value.response["Error"]["Code"] == "ValidationException", expression
    assert ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"] == item


def test_stack_api_unknown_route_and_method(stack: LocalStack) -> None:
    # The $default route's function answers both, with or without a key.
    problem(requests.get(f"{stack.api_url}/v1/nowhere", timeout=10), 404)
    problem(requests.delete(f"{stack.api_url}/v1/orders", timeout=10), 404)
    problem(requests.delete(f"{stack.api_url}/v1/orders", headers={"x-api-key": "dev-ops-key"}, timeout=10), 404)


def test_stack_api_functions_check_the_key(stack: LocalStack) -> None:
    url = f"{stack.api_url}/v1/me"
    problem(requests.get(url, timeout=10), 401)
    problem(requests.get(url, headers={"x-api-key": "not-a-key"}, timeout=10), 401)
    # A development key passes (its hash is read from the provisioned secret).
    ok = requests.get(url, headers={"x-api-key": "dev-ops-key"}, timeout=10)
    assert ok.status_code == 200, ok.text
    assert ok.json()["principal_id"] == "ops-1" and ok.json()["role"] == "ops"
    # A key of another role reaches the function, which refuses what the role may not do.
    problem(requests.get(f"{stack.api_url}/v1/exceptions", headers={"x-api-key": "dev-web-key"}, timeout=10), 403)


def test_sqs_mapping_delivers_to_the_consumer(stack: LocalStack, override: Any) -> None:
    got: list[Any] = []
    override("ImportOrders", lambda event, context: got.append(event))
    assert stack.resources is not None
    queue = stack.resources.queues["OrderImport"]
    stack.client("sqs").send_message(QueueUrl=queue.url, MessageBody='{"external_id": "x-1"}')
    event = wait_for(lambda: got and got[0])
    record = event["Records"][0]
    assert record["body"] == '{"external_id": "x-1"}'
    assert record["eventSourceARN"] == queue.arn


def test_sqs_failures_end_in_the_dlq(stack: LocalStack, override: Any) -> None:
    # Failed messages come back (moto retries them when the next message arrives) until
    # maxReceiveCount, then move to the DLQ. A reported failure of an item the batch did not
    # hold fails the whole batch, as in Lambda.
    override("ImportOrders", lambda event, context: {"batchItemFailures": [{"itemIdentifier": "x"}]})
    assert stack.resources is not None
    queue = stack.resources.queues["OrderImport"]
    sqs = stack.client("sqs")
    receive_count = next(q for q in manifest.QUEUES if q.name == "OrderImport").max_receive_count
    for i in range(receive_count + 1):
        sqs.send_message(QueueUrl=queue.url, MessageBody=f"m{i}")
        assert moto_patches.wait_for_queues(30)  # each arrival retries what failed before it
    # The last delivery runs in a worker process: wait for the move rather than race it.
    dead = sqs.receive_message(QueueUrl=queue.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
    assert [m["Body"] for m in dead] == ["m0"]


def _batches_while_the_consumer_waits(
    stack: LocalStack, override: Any, queue_name: str, bodies: list[str], answer: Any = lambda event: None
) -> list[list[dict[str, Any]]]:
    """Send ``bodies`` to the queue while its consumer is still busy with a first message;
    the batches it received, that first one included."""
    batches: list[list[dict[str, Any]]] = []
    busy, release = threading.Event(), threading.Event()

    def consume(event: Any, context: Any) -> Any:
        batches.append(event["Records"])
        busy.set()
        release.wait(60)
        return answer(event)

    override(next(q.consumer for q in manifest.QUEUES if q.name == queue_name), consume)
    assert stack.resources is not None
    url = stack.resources.queues[queue_name].url
    sqs = stack.client("sqs")
    try:
        sqs.send_message(QueueUrl=url, MessageBody="first")
        assert busy.wait(30)
        for body in bodies:
            sqs.send_message(QueueUrl=url, MessageBody=body)
    finally:
        release.set()
    assert moto_patches.wait_for_queues(30)
    return batches


def test_messages_that_wait_for_a_queues_consumer_reach_it_in_batches_of_its_batch_size(
    stack: LocalStack, override: Any
) -> None:
    # Lambda's poller hands a consumer every visible message up to the batch size at once
    # (moto invoked it once per message).
    bodies = [f"m{i}" for i in range(12)]
    batches = _batches_while_the_consumer_waits(stack, override, "CommercetoolsMessages", bodies)
    assert [[record["body"] for record in batch] for batch in batches] == [["first"], bodies[:10], bodies[10:]]
    record = batches[1][0]
    assert record["eventSource"] == "aws:sqs" and record["attributes"]["ApproximateReceiveCount"] == "1"
    assert stack.resources is not None
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resources.queues["CommercetoolsMessages"].url, AttributeNames=["All"]
    )["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == (
        "0",
        "0",
    )


def test_a_full_batch_waiting_behind_a_busy_consumer_is_worked_at_once_by_another(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lambda works several batches of a standard queue at once while messages are
    # available. One at a time, a busy consumer kept a full batch waiting: outbound
    # webhooks fell seconds behind their events under load. The poller's invocations are
    # watched where it makes them (a test handler here would run one at a time).
    started: list[list[str]] = []
    first, second, release = threading.Event(), threading.Event(), threading.Event()
    invoke = moto_patches._failed_messages

    def consume(functions: Any, function_arn: str, queue: Any, messages: list[Any]) -> set[str]:
        if queue.name != f"{manifest.LOCAL_PREFIX}CommercetoolsMessages":
            return invoke(functions, function_arn, queue, messages)
        started.append([message.body for message in messages])
        (second if first.is_set() else first).set()
        release.wait(60)
        return set()

    monkeypatch.setattr(moto_patches, "_failed_messages", consume)
    assert stack.resources is not None
    url = stack.resources.queues["CommercetoolsMessages"].url
    sqs = stack.client("sqs")
    bodies = [f"m{i}" for i in range(12)]
    try:
        sqs.send_message(QueueUrl=url, MessageBody="first")
        assert first.wait(30)
        for body in bodies:
            sqs.send_message(QueueUrl=url, MessageBody=body)
        assert second.wait(30), "the waiting batch was not worked while the first ran"
        assert started == [["first"], bodies[:10]]
    finally:
        release.set()
    assert moto_patches.wait_for_queues(30)
    assert started == [["first"], bodies[:10], bodies[10:]]  # two waiting: no third batch at once


def test_a_batch_item_failure_brings_back_that_message_alone(stack: LocalStack, override: Any) -> None:
    def fail_bad(event: Any) -> dict[str, Any]:
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]
        }

    batches = _batches_while_the_consumer_waits(stack, override, "StockImport", ["a", "bad", "c"], fail_bad)
    assert [record["body"] for record in batches[1]] == ["a", "bad", "c"]
    assert stack.resources is not None
    stack.client("sqs").send_message(QueueUrl=stack.resources.queues["StockImport"].url, MessageBody="d")
    assert moto_patches.wait_for_queues(30)
    delivered = [(r["body"], r["attributes"]["ApproximateReceiveCount"]) for batch in batches[2:] for r in batch]
    assert ("d", "1") in delivered and ("bad", "2") in delivered
    assert {body for body, _ in delivered} == {"bad", "d"}  # a and c were deleted after their batch


def test_a_batch_the_emulator_could_not_hand_over_comes_back_with_the_next_message(
    stack: LocalStack, override: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.awslambda.models import LambdaBackend

    got: list[list[str]] = []
    override("Notifications", lambda event, context: got.append([r["body"] for r in event["Records"]]))
    get_function = LambdaBackend.get_function
    failures = [RuntimeError("the invocation never started")]

    def fail_once(self: Any, *args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return get_function(self, *args, **kwargs)

    monkeypatch.setattr(LambdaBackend, "get_function", fail_once)
    assert stack.resources is not None
    url = stack.resources.queues["CustomerNotifications"].url
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="lost-once")
    assert moto_patches.wait_for_queues(30) and got == [] and failures == []
    sqs.send_message(QueueUrl=url, MessageBody="next")
    assert moto_patches.wait_for_queues(30)
    assert got == [["lost-once", "next"]]  # visible again at once, not after the visibility timeout


def test_a_busy_queue_consumer_does_not_hold_back_another_queues(stack: LocalStack, override: Any) -> None:
    # Lambda polls each queue on its own: outbound webhooks still being sent must not keep
    # a carrier's event waiting.
    busy, release, tracked = threading.Event(), threading.Event(), threading.Event()

    def deliver_slowly(event: Any, context: Any) -> None:
        busy.set()
        release.wait(60)

    override("WebhookDelivery", deliver_slowly)
    override("TrackingEvents", lambda event, context: tracked.set())
    assert stack.resources is not None
    sqs = stack.client("sqs")
    try:
        sqs.send_message(QueueUrl=stack.resources.queues["WebhookEvents"].url, MessageBody="{}")
        assert busy.wait(30)
        sqs.send_message(QueueUrl=stack.resources.queues["CarrierEvents"].url, MessageBody="{}")
        assert tracked.wait(30)
        assert not release.is_set()  # the webhook's consumer was still busy meanwhile
    finally:
        release.set()
    assert moto_patches.wait_for_queues(30)


def test_a_busy_stream_consumer_does_not_hold_back_the_others(stack: LocalStack, override: Any) -> None:
    # Each consumer of a stream reads it on its own: slow read models must not delay the
    # events the Projector publishes.
    busy, release, projected = threading.Event(), threading.Event(), threading.Event()

    def project_slowly(event: Any, context: Any) -> None:
        busy.set()
        release.wait(60)

    override("ReadModels", project_slowly)
    override("Projector", lambda event, context: projected.set())
    assert stack.resources is not None
    ddb = stack.client("dynamodb")
    table = stack.resources.table_name
    try:
        ddb.put_item(TableName=table, Item={"pk": {"S": "TEST#BUSY"}, "sk": {"S": "A"}, "type": {"S": "order"}})
        assert busy.wait(30)
        ddb.put_item(TableName=table, Item={"pk": {"S": "TEST#BUSY"}, "sk": {"S": "E"}, "type": {"S": "event"}})
        assert projected.wait(30)
        assert not release.is_set()
    finally:
        release.set()
    assert moto_patches.wait_for_streams(30)


@pytest.mark.parametrize("consumer", manifest.STREAM_CONSUMERS, ids=lambda c: c.function)
def test_a_stream_filter_lets_through_exactly_the_changes_its_pattern_names(consumer: manifest.StreamConsumer) -> None:
    passes = moto_patches._filter(json.dumps(consumer.filter_pattern()))
    for event_name in ("INSERT", "MODIFY", "REMOVE"):
        for item_type in ("order", "event", "inventory", "line", "payment"):
            record = {"eventName": event_name, "dynamodb": {"Keys": {}, "NewImage": {"type": {"S": item_type}}}}
            expected = event_name in consumer.event_names and item_type in consumer.item_types
            assert passes(record) is expected, (event_name, item_type)
    named = {"eventName": consumer.event_names[0]}
    assert not passes({**named, "dynamodb": {"Keys": {}}})  # no new image (a removal)
    assert not passes({**named, "dynamodb": {"NewImage": {"type": {"N": "1"}}}})
    assert not passes({**named, "dynamodb": {"NewImage": "not a map"}})
    assert not passes({"dynamodb": {"NewImage": {"type": {"S": consumer.item_types[0]}}}})


def test_stream_mapping_delivers_table_changes(stack: LocalStack, override: Any) -> None:
    got: list[Any] = []
    override("Projector", lambda event, context: got.append(event))
    assert stack.resources is not None
    ddb = stack.client("dynamodb")
    table = stack.resources.table_name
    # The Projector's filter lets through new timeline items only (manifest StreamConsumer).
    ddb.put_item(TableName=table, Item={"pk": {"S": "TEST#0"}, "sk": {"S": "A"}, "type": {"S": "order"}})
    ddb.put_item(
        TableName=table, Item={"pk": {"S": "TEST#1"}, "sk": {"S": "A"}, "type": {"S": "event"}, "n": {"N": "1"}}
    )
    ddb.put_item(
        TableName=table, Item={"pk": {"S": "TEST#1"}, "sk": {"S": "A"}, "type": {"S": "event"}, "n": {"N": "2"}}
    )
    event = wait_for(lambda: got and got[0])
    moto_patches.wait_for_streams()
    records = [r for e in got for r in e["Records"]]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records] == [("INSERT", "TEST#1")]
    record = event["Records"][0]
    assert record["eventSourceARN"] == stack.resources.stream_arn
    assert record["dynamodb"]["NewImage"]["n"] == {"N": "1"}


def _gated_projector(override: Any, answer: Callable[[list[str]], Any]) -> tuple[list[list[str]], threading.Event]:
    """The Projector, recording the keys of each batch; its first invocation waits for the
    gate, so what is written meanwhile reaches it as one batch. ``answer`` answers each
    later batch (or raises)."""
    batches: list[list[str]] = []
    gate = threading.Event()

    def project(event: Any, context: Any) -> Any:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        batches.append(keys)
        if len(batches) == 1:
            gate.wait(30)
            return None
        return answer(keys)

    override("Projector", project)
    return batches, gate


def _open_once_queued(gate: threading.Event, keys: Iterable[str]) -> None:
    """Open the Projector's gate once the records of ``keys`` all wait in a stream consumer's
    queue. The stream's dispatch thread hands records on a moment after their writes: one
    not yet handed on when the Projector took its next batch would come in a batch of its own."""
    wanted = set(keys)

    def queued() -> bool:
        delivery = moto_patches._delivery
        assert delivery is not None
        waiting = {
            record.record["dynamodb"]["Keys"]["pk"]["S"]
            for batches in list(delivery._consumers.values())
            for *_, records in list(batches.queue)
            for record in records
        }
        return wanted <= waiting

    wait_for(queued)
    gate.set()


def _timeline_items(stack: LocalStack, keys: list[str]) -> dict[str, str]:
    """Writes an event item for each key; those keys' stream sequence numbers."""
    assert stack.resources is not None
    ddb = stack.client("dynamodb")
    for key in keys:
        ddb.put_item(
            TableName=stack.resources.table_name, Item={"pk": {"S": key}, "sk": {"S": "A"}, "type": {"S": "event"}}
        )
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[runtime.ACCOUNT_ID][stack.region].get_table(stack.resources.table_name)
    assert table.stream_shard is not None
    return {
        r.record["dynamodb"]["Keys"]["pk"]["S"]: r.record["dynamodb"]["SequenceNumber"]
        for r in table.stream_shard.items
        if r.record["dynamodb"]["Keys"]["pk"]["S"] in keys
    }


def _stream_dlq(stack: LocalStack, sequence_numbers: Iterable[str]) -> list[dict[str, Any]]:
    """The Projector's failure descriptions of batches that begin with one of these records
    (another test's may be there too)."""
    assert stack.resources is not None
    url = stack.resources.stream_dlqs["Projector"][0]
    got = stack.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    wanted = set(sequence_numbers)
    described = [json.loads(m["Body"]) for m in got.get("Messages", [])]
    return [d for d in described if d["DDBStreamBatchInfo"]["startSequenceNumber"] in wanted]


def test_a_stream_batch_with_failed_items_comes_back_from_the_first_failed_record(
    stack: LocalStack, override: Any
) -> None:
    """ReportBatchItemFailures on a stream: Lambda goes on from the lowest sequence number
    reported. Before, the batch was passed over whatever the function answered."""
    sequence: dict[str, str] = {}

    def answer(keys: list[str]) -> Any:
        if keys[0] == "TEST#pf-1":  # the first whole batch: the third and fourth records failed
            return {
                "batchItemFailures": [
                    {"itemIdentifier": sequence["TEST#pf-4"]},
                    {"itemIdentifier": sequence["TEST#pf-3"]},
                ]
            }
        return {"batchItemFailures": []}

    batches, gate = _gated_projector(override, answer)
    sequence.update(_timeline_items(stack, ["TEST#pf-gate"]))
    wait_for(lambda: batches)
    sequence.update(_timeline_items(stack, [f"TEST#pf-{n}" for n in range(1, 5)]))
    _open_once_queued(gate, [f"TEST#pf-{n}" for n in range(1, 5)])
    assert moto_patches.wait_for_streams(30)
    assert batches == [
        ["TEST#pf-gate"],
        ["TEST#pf-1", "TEST#pf-2", "TEST#pf-3", "TEST#pf-4"],
        ["TEST#pf-3", "TEST#pf-4"],
    ]
    assert _stream_dlq(stack, sequence.values()) == []


def test_a_failing_record_is_bisected_out_retried_and_described_to_the_stream_dlq(
    stack: LocalStack, override: Any
) -> None:
    """A batch whose invocation fails is split in two until the failing record is alone; it
    is tried again MaximumRetryAttempts times, then described to the on-failure destination
    in Lambda's format; the records around it are projected, and the stream goes on."""
    from aws_lambda_powertools.utilities.parser.models.dynamodb import DynamoDBStreamLambdaOnFailureDestinationModel

    def answer(keys: list[str]) -> Any:
        if "TEST#bis-bad" in keys:
            raise RuntimeError("cannot project this one")
        return None

    batches, gate = _gated_projector(override, answer)
    _timeline_items(stack, ["TEST#bis-gate"])
    wait_for(lambda: batches)
    keys = ["TEST#bis-1", "TEST#bis-2", "TEST#bis-bad", "TEST#bis-3"]
    sequence = _timeline_items(stack, keys)
    _open_once_queued(gate, keys)
    assert moto_patches.wait_for_streams(30)
    bad = ["TEST#bis-bad"]
    assert batches[1:] == [keys, keys[:2], keys[2:], bad, bad, bad, bad, ["TEST#bis-3"]]

    (description,) = _stream_dlq(stack, [sequence[key] for key in keys])
    parsed = DynamoDBStreamLambdaOnFailureDestinationModel.model_validate(description)
    assert parsed.request_context.condition == "RetryAttemptsExhausted"
    assert parsed.request_context.approximate_invoke_count == 6  # the batch, its half, alone and three retries
    assert parsed.response_context.function_error == "Unhandled"
    info = parsed.ddb_stream_batch_info
    assert (info.start_sequence_number, info.end_sequence_number, info.batch_size) == (
        sequence["TEST#bis-bad"],
        sequence["TEST#bis-bad"],
        1,
    )
    assert stack.resources is not None and info.stream_arn == stack.resources.stream_arn

    _timeline_items(stack, ["TEST#bis-after"])
    assert moto_patches.wait_for_streams(30)
    assert batches[-1] == ["TEST#bis-after"]


def test_a_stream_batch_whose_invocation_failed_once_is_delivered_again(stack: LocalStack, override: Any) -> None:
    failed: list[list[str]] = []

    def answer(keys: list[str]) -> Any:
        if not failed:
            failed.append(keys)
            raise RuntimeError("a passing failure")
        return None

    batches, gate = _gated_projector(override, answer)
    _timeline_items(stack, ["TEST#once-gate"])
    wait_for(lambda: batches)
    sequence = _timeline_items(stack, ["TEST#once-1", "TEST#once-2"])
    _open_once_queued(gate, ["TEST#once-1", "TEST#once-2"])
    assert moto_patches.wait_for_streams(30)
    # Bisected: each half delivered after the whole failed once.
    assert batches[1:] == [["TEST#once-1", "TEST#once-2"], ["TEST#once-1"], ["TEST#once-2"]]
    assert _stream_dlq(stack, sequence.values()) == []


def test_pollers_hand_their_batches_to_the_adapter_as_events_not_json_text(
    stack: LocalStack, override: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's invoke takes JSON text: a stream or queue batch was dumped, parsed back and
    # dumped again on its way to the environment (moto_patches 37).
    from moto.awslambda.models import LambdaFunction

    texts: list[str] = []
    moto_invoke = LambdaFunction.invoke

    def invoke_with_text(self: Any, body: Any, *rest: Any) -> Any:
        texts.append(self.function_name)
        return moto_invoke(self, body, *rest)

    monkeypatch.setattr(LambdaFunction, "invoke", invoke_with_text)
    got: list[str] = []
    override("ImportOrders", lambda event, context: got.extend(r["body"] for r in event["Records"]))
    override("Projector", lambda event, context: got.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]))
    assert stack.resources is not None
    stack.client("sqs").send_message(QueueUrl=stack.resources.queues["OrderImport"].url, MessageBody="queued")
    stack.client("dynamodb").put_item(
        TableName=stack.resources.table_name,
        Item={"pk": {"S": "TEST#polled"}, "sk": {"S": "A"}, "type": {"S": "event"}},
    )
    assert moto_patches.wait_for_queues(30) and moto_patches.wait_for_streams(30)
    assert {"TEST#polled", "queued"} <= set(got)
    assert texts == []


def test_a_stream_batch_is_the_event_moto_makes_of_it(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda.utils import get_backend
    from moto.dynamodb.models import dynamodb_backends

    assert stack.resources is not None
    ddb = stack.client("dynamodb")
    table_name = stack.resources.table_name
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "TEST#same"}, "sk": {"S": "A"}, "n": {"N": "1"}})
    ddb.update_item(
        TableName=table_name,
        Key={"pk": {"S": "TEST#same"}, "sk": {"S": "A"}},
        UpdateExpression="SET n = :n, tags = :t",
        ExpressionAttributeValues={":n": {"N": "2"}, ":t": {"SS": ["a", "b"]}},
    )
    assert moto_patches.wait_for_streams(30)
    account, region = "123456789012", "us-east-1"
    table = dynamodb_backends[account][region].get_table(table_name)
    records = [r for r in table.stream_shard.items if r.record["dynamodb"]["Keys"]["pk"] == {"S": "TEST#same"}]
    assert [r.record["eventName"] for r in records] == ["INSERT", "MODIFY"]
    functions = get_backend(account, region)
    arn = functions.get_function(f"{manifest.LOCAL_PREFIX}Projector", None).function_arn
    made: list[Any] = []

    def take(self: Any, event: Any = None) -> tuple[str, bool, str]:
        made.append(event)
        return "null", False, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", take)
    functions.send_dynamodb_items(arn, records, stack.resources.stream_arn)
    ours = moto_patches._stream_event(records, region, stack.resources.stream_arn)
    assert made == [json.loads(json.dumps(ours))]


def _function(stack: LocalStack, name: str, handler: str, *, timeout_seconds: int = 3) -> str:
    assert stack.resources is not None
    return str(
        stack.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=stack.resources.role_arn,
            Handler=f"{HERE}.{handler}",
            Code={"ZipFile": provision.dummy_zip()},
            Timeout=timeout_seconds,
        )["FunctionArn"]
    )


def _machine(stack: LocalStack, name: str, definition: dict[str, Any]) -> str:
    assert stack.resources is not None
    created = stack.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=stack.resources.role_arn
    )
    return str(created["stateMachineArn"])


def _run(stack: LocalStack, name: str, definition: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    machine = _machine(stack, name, definition)
    execution = stack.client("stepfunctions").start_execution(stateMachineArn=machine, input=json.dumps(payload))
    return _finished(stack, execution["executionArn"])


def _finished(stack: LocalStack, execution: str, timeout: float = 20) -> dict[str, Any]:
    sfn = stack.client("stepfunctions")

    def done() -> Any:
        d = sfn.describe_execution(executionArn=execution)
        return d if d["status"] != "RUNNING" else None

    result: dict[str, Any] = wait_for(done, timeout=timeout)
    return result


def test_step_functions_task_runs_a_provisioned_function(stack: LocalStack) -> None:
    arn = _function(stack, "test-echo", "echo")
    definition = {"StartAt": "Echo", "States": {"Echo": {"Type": "Task", "Resource": arn, "End": True}}}
    result = _run(stack, "test-echo", definition, {"order_id": "ord_1"})
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"echo": {"order_id": "ord_1"}, "function_name": "test-echo"}


def test_step_functions_retry_and_catch_match_the_error_class_name(stack: LocalStack) -> None:
    failing = _function(stack, "test-retryable", "always_retryable")
    fallback = _function(stack, "test-fallback", "echo")
    definition = {
        "StartAt": "Reserve",
        "States": {
            "Reserve": {
                "Type": "Task",
                "Resource": failing,
                "Retry": [{"ErrorEquals": ["RetryableError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["RetryableError"], "ResultPath": "$.error", "Next": "Compensate"}],
                "End": True,
            },
            "Compensate": {"Type": "Task", "Resource": fallback, "End": True},
        },
    }
    before = len(calls("always_retryable"))
    result = _run(stack, "test-retry", definition, {"order_id": "ord_2"})
    assert result["status"] == "SUCCEEDED", result
    assert len(calls("always_retryable")) - before == 2  # the attempt and one retry
    error = json.loads(result["output"])["echo"]["error"]
    assert error["Error"] == "RetryableError"
    assert json.loads(error["Cause"])["errorMessage"] == "inventory service busy"


def test_executions_of_one_definition_share_its_components_and_nothing_else(stack: LocalStack) -> None:
    """The interpreter builds a definition's components once (moto_patches, patch 7): each
    execution still keeps its own retry counts and Map results."""
    assert stack.resources is not None
    flaky = _function(stack, "test-fail-once", "fail_once")
    definition = {
        "StartAt": "EachItem",
        "States": {
            "EachItem": {
                "Type": "Map",
                "ItemsPath": "$.keys",
                "ItemSelector": {"key.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "StartAt": "Flaky",
                    "States": {
                        "Flaky": {
                            "Type": "Task",
                            "Resource": flaky,
                            "Retry": [{"ErrorEquals": ["RetryableError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    sfn = stack.client("stepfunctions")
    machine = _machine(stack, "test-shared-components", definition)
    run_id = uuid.uuid4().hex[:8]
    inputs = [[f"{run_id}-{n}-{i}" for i in range(2)] for n in range(4)]

    def start(keys: list[str]) -> str:
        return str(
            sfn.start_execution(stateMachineArn=machine, name=keys[0], input=json.dumps({"keys": keys}))["executionArn"]
        )

    with ThreadPoolExecutor(max_workers=len(inputs)) as pool:
        executions = list(pool.map(start, inputs))
    results = [_finished(stack, execution, timeout=90) for execution in executions]
    for keys, result in zip(inputs, results, strict=True):
        assert result["status"] == "SUCCEEDED", result
        assert json.loads(result["output"]) == [{"key": key} for key in keys]
    attempts = Counter(c["key"] for c in calls("fail_once") if c["key"].startswith(run_id))
    assert attempts == {key: 2 for keys in inputs for key in keys}  # each failed once, was retried once
    built = [found for definition_text, found in moto_patches._parsed.items() if "test-fail-once" in definition_text]
    assert len(built) == 1  # one set of components served them all


def test_step_functions_wait_for_task_token(stack: LocalStack) -> None:
    arn = _function(stack, "test-keep-token", "keep_token")
    definition = {
        "StartAt": "WaitForShipment",
        "States": {
            "WaitForShipment": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": arn, "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    assert stack.resources is not None
    sfn = stack.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="test-token", definition=json.dumps(definition), roleArn=stack.resources.role_arn
    )["stateMachineArn"]
    seen = len(calls("token"))
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    token = wait_for(lambda: calls("token")[seen:] and calls("token")[seen])
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=token, output='{"shipped": true}')
    result = _finished(stack, execution)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"shipped": True}


def _execution_of(target: Any, args: tuple[Any, ...]) -> str | None:
    """The execution an interpreter thread's target works for (its ARN), read from the
    environment it evaluates: its arguments, its bound object or its closure."""
    owner = getattr(target, "__self__", None)
    details = getattr(owner, "_evaluation_details", None)
    if details is not None:  # the execution's own thread
        return str(details.execution_details.arn)
    cells = [cell.cell_contents for cell in getattr(target, "__closure__", None) or ()]
    for candidate in (*args, *cells):
        try:
            return str(candidate.states.context_object.context_object_data["Execution"]["Id"])
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
    return None


def _threads_of(executions: set[str]) -> int:
    """Live threads working for these executions: other tests' executions may run meanwhile."""
    return sum(
        1
        for thread in threading.enumerate()
        if _execution_of(getattr(thread, "_target", None), getattr(thread, "_args", ())) in executions
    )


def _token_machine(stack: LocalStack, name: str, timeout_seconds: int) -> str:
    arn = _function(stack, f"{name}-fn", "keep_token")
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": arn, "Payload": {"token.$": "$$.Task.Token"}},
        "TimeoutSeconds": timeout_seconds,
        "End": True,
    }
    return _machine(stack, name, {"StartAt": "Wait", "States": {"Wait": task}})


def test_an_execution_runs_its_untimed_tasks_in_its_own_thread(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto started a thread for the program and one for each task with no timeout of its
    own, each to wait for the other without a limit (moto_patches 43)."""
    arn = _function(stack, "test-threads", "echo")
    task = {"Type": "Task", "Resource": arn}
    definition = {
        "StartAt": "One",
        "States": {"One": {**task, "Next": "Two"}, "Two": {**task, "Next": "Three"}, "Three": {**task, "End": True}},
    }
    started: list[tuple[Any, tuple[Any, ...]]] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append((getattr(thread, "_target", None), getattr(thread, "_args", ())))
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    result = _run(stack, "test-threads", definition, {"n": 1})
    assert result["status"] == "SUCCEEDED"
    # The execution's own thread only: before, one for its program and one for each task.
    assert sum(1 for target, args in started if _execution_of(target, args) == result["executionArn"]) == 1


def test_an_execution_waiting_for_a_token_holds_two_threads_and_its_timeout(stack: LocalStack) -> None:
    machine = _token_machine(stack, "test-token-threads", timeout_seconds=60)
    sfn = stack.client("stepfunctions")
    seen = len(calls("token"))
    # Unnamed: each gets a name of its own, as Step Functions gives it (moto_patches 44).
    executions = [sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"] for _ in range(4)]
    tokens = wait_for(lambda: len(calls("token")) >= seen + 4 and calls("token")[seen : seen + 4])
    assert len(set(executions)) == 4 and not any(e.endswith(":None") for e in executions)
    assert _threads_of(set(executions)) == 2 * 4  # three each before
    for token in tokens:
        sfn.send_task_success(taskToken=token, output="{}")
    assert all(_finished(stack, e)["status"] == "SUCCEEDED" for e in executions)

    timed = _token_machine(stack, "test-token-timeout", timeout_seconds=1)
    execution = sfn.start_execution(stateMachineArn=timed, input="{}")["executionArn"]
    result = _finished(stack, execution)
    assert (result["status"], result.get("error")) == ("FAILED", "States.Timeout")


def test_manifest_state_machine_runs_its_tasks(stack: LocalStack, override: Any) -> None:
    got: list[Any] = []

    def advance(event: Any, context: Any) -> dict[str, Any]:
        got.append((event, context.function_name))
        # Nothing left to fulfill: the branch to the Map, which ends at once with no item.
        raise SeveralFulfillmentOrders(json.dumps({"next": "fulfill", "open": [], "fulfillment_timeout_seconds": 60}))

    override("AdvanceOrder", advance)
    assert stack.resources is not None
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=stack.resources.state_machines["OrderLifecycle"],
        name="ord_test",
        input='{"order_id": "ord_test", "fulfillment_timeout_seconds": 60}',
    )["executionArn"]
    result = _finished(stack, execution)
    assert result["status"] == "SUCCEEDED", result
    event, function_name = got[0]
    assert event["order_id"] == "ord_test" and event["execution_name"] == "ord_test"
    assert event["task_token"]  # AdvanceOrder waits on the fulfillment order it releases to
    assert function_name == "oms-AdvanceOrder"


@pytest.mark.slow
def test_serve_prints_ready_and_stops_on_sigint() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "serve", "--moto-port", "0", "--api-port", "0"],
        cwd=manifest.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("READY"):
                break
        output = "".join(lines)
        assert "READY" in output, output
        api_url = re.search(r"^HTTP API: (\S+)/v1$", output, re.M)
        assert api_url, output
        assert re.search(r"^AWS endpoint: http://127\.0\.0\.1:\d+", output, re.M)
        assert "aws stepfunctions list-executions --endpoint-url" in output
        problem(requests.get(f"{api_url.group(1)}/v1/nowhere", timeout=5), 404)
        console = re.search(r"^Console: (\S+/console)$", output, re.M)
        assert console and console.group(1) == f"{api_url.group(1)}/console", output
        page = requests.get(console.group(1), timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_no_invocation_path_reaches_docker(stack: LocalStack, override: Any) -> None:
    """Step Functions tasks, both event source mappings, Invoke (sync and async) and the
    API all run the project's handlers; any attempt to run Docker would be recorded."""
    assert stack.resources is not None
    before = len(lambda_adapter.docker_attempts)
    got: list[str] = []
    override("ImportOrders", lambda event, context: got.append("sqs"))
    override("Projector", lambda event, context: got.append("stream"))
    arn = _function(stack, "test-paths", "echo")
    lam = stack.client("lambda")
    direct = lam.invoke(FunctionName=arn, Payload=b'{"path": "invoke"}')
    assert json.loads(direct["Payload"].read())["echo"] == {"path": "invoke"}
    assert lam.invoke(FunctionName=arn, InvocationType="Event", Payload=b"{}")["StatusCode"] in (200, 202)
    definition = {"StartAt": "Echo", "States": {"Echo": {"Type": "Task", "Resource": arn, "End": True}}}
    assert _run(stack, "test-paths", definition, {"path": "sfn"})["status"] == "SUCCEEDED"
    queue = stack.resources.queues["OrderImport"]
    stack.client("sqs").send_message(QueueUrl=queue.url, MessageBody="{}")
    stack.client("dynamodb").put_item(
        TableName=stack.resources.table_name,
        Item={"pk": {"S": "TEST#paths"}, "sk": {"S": "A"}, "type": {"S": "event"}},
    )
    wait_for(lambda: {"sqs", "stream"} <= set(got))
    problem(requests.get(f"{stack.api_url}/v1/orders", timeout=10), 401)
    assert lambda_adapter.docker_attempts[before:] == []


def test_a_function_beyond_its_concurrency_is_throttled(stack: LocalStack) -> None:
    """Synchronous invocations past the reserved concurrency get 429 at once, never a hang."""
    arn = _function(stack, "test-throttle", "sleepy")
    lam = stack.client("lambda")
    lam.put_function_concurrency(FunctionName=arn, ReservedConcurrentExecutions=2)
    start = threading.Barrier(5)

    def call(_: int) -> str:
        start.wait()
        try:
            lam.invoke(FunctionName=arn, Payload=b"{}")
            return "ok"
        except lam.exceptions.TooManyRequestsException:
            return "throttled"

    with ThreadPoolExecutor(5) as pool:
        outcomes = sorted(pool.map(call, range(5)))
    assert outcomes.count("ok") >= 2 and outcomes.count("throttled") >= 1, outcomes
    environments = stack.environments
    assert environments is not None
    assert environments.stats()["peak_concurrency"][f"{HERE}.sleepy"] <= 2


def test_concurrent_invocations_of_one_function_run_at_once(stack: LocalStack, tmp_path: Path) -> None:
    """Four invocations meet inside the handler: possible only if they run together."""
    arn = _function(stack, "test-parallel", "rendezvous", timeout_seconds=20)
    lam = stack.client("lambda")
    payload = json.dumps({"dir": str(tmp_path), "expect": 4, "wait_seconds": 15}).encode()
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: json.loads(lam.invoke(FunctionName=arn, Payload=payload)["Payload"].read()), range(4))
        )
    assert all(r["met"] for r in results), results
    assert len({r["pid"] for r in results}) == 4  # one environment (process) each


def test_a_function_no_caller_waits_on_queues_past_its_environments_instead_of_starting_more(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Direct invocations (no HTTP caller) beyond the stack's environments per background
    function wait for one to be free: all succeed, none is throttled, no third environment."""
    environments = stack.environments
    assert environments is not None
    monkeypatch.setattr(environments, "background_environments", 2)
    arn = _function(stack, "test-queued", "sleepy", timeout_seconds=10)
    lam = stack.client("lambda")
    throttled = environments.stats()["throttled"].get(f"{HERE}.sleepy", 0)
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: json.loads(lam.invoke(FunctionName=arn, Payload=b"{}")["Payload"].read()), range(4))
        )
    assert all("pid" in a for a in answers), answers
    assert len({a["pid"] for a in answers}) == 2  # the same two environments served all four
    stats = environments.stats()
    assert stats["environments"]["test-queued"] == 2
    assert stats["throttled"].get(f"{HERE}.sleepy", 0) == throttled


def test_a_message_past_its_queues_retention_is_not_received(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Patch 22: retention is read from the queue's own period, without its whole attribute map."""
    from moto.sqs.models import Queue, sqs_backends

    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName="retention-test", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="new")
    sqs.send_message(QueueUrl=url, MessageBody="old")
    assert stack.resources is not None
    queue = sqs_backends[stack.resources.account_id][stack.region].queues["retention-test"]
    old = next(m for m in queue._messages if m.body == "old")
    old.sent_timestamp -= 120_000  # sent two minutes ago: past the queue's 60 s
    built: list[int] = []
    whole_map = Queue.attributes

    def counted(self: Any) -> Any:
        built.append(1)
        return whole_map.fget(self)  # type: ignore[attr-defined]

    monkeypatch.setattr(Queue, "attributes", property(counted))
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in received] == ["new"]
    assert built == []


def test_the_functions_a_caller_waits_on_send_their_requests_to_the_callers_socket(stack: LocalStack) -> None:
    """wire.CallersFirst: the API's functions reach the emulator on the callers' socket, the rest on the other."""
    assert stack.resources is not None and stack.socket_server is not None
    server = stack.socket_server
    arn = _function(stack, "test-read-in-background", "read_table")
    served, by_callers = server.served, server.served_callers
    response = stack.client("lambda").invoke(
        FunctionName=arn, Payload=json.dumps({"table": stack.resources.table_name}).encode()
    )
    assert json.loads(response["Payload"].read()) == {"ok": True}
    assert server.served - served >= 2 and server.served_callers == by_callers
    response = requests.get(f"{stack.api_url}/v1/orders", headers={"x-api-key": "dev-ops-key"}, timeout=30)
    assert response.status_code == 200
    assert server.served_callers > by_callers


def test_environments_no_caller_waits_on_yield_the_cpu_to_the_api(stack: LocalStack, tmp_path: Path) -> None:
    """A function invoked from the HTTP API runs at the stack's priority; any other's at a lower one."""
    from infra.local.environments import BACKGROUND_NICENESS

    base = os.getpriority(os.PRIO_PROCESS, 0)
    arn = _function(stack, "test-priority", "rendezvous", timeout_seconds=20)
    payload = json.dumps({"dir": str(tmp_path), "expect": 1, "wait_seconds": 5}).encode()
    answer = json.loads(stack.client("lambda").invoke(FunctionName=arn, Payload=payload)["Payload"].read())
    assert os.getpriority(os.PRIO_PROCESS, answer["pid"]) == min(19, base + BACKGROUND_NICENESS)
    response = requests.get(f"{stack.api_url}/v1/orders", headers={"x-api-key": "dev-ops-key"}, timeout=30)
    assert response.status_code == 200
    assert stack.environments is not None
    pool = stack.environments.pools[f"{manifest.LOCAL_PREFIX}CaptureApi"]
    assert pool.idle and all(os.getpriority(os.PRIO_PROCESS, e.process.pid) == base for e in pool.idle)


def test_the_emulation_split_counts_the_functions_requests_by_service_without_the_meter(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lifecycle benchmark's split of the emulator's CPU: a function's two GetItems are
    the DynamoDB part's, their frames the wire's, and the bench meter's work on them is in
    neither (here a meter that spends 30 ms of CPU on each request it observes)."""
    from tests.benchmarks.aws_meter import AwsMeter
    from tests.benchmarks.emulation_split import EmulationSplit

    assert stack.resources is not None
    observed: list[str] = []

    def slow_observe(self: AwsMeter, service: str, operation: str, *args: Any) -> None:
        started = time.thread_time()
        while time.thread_time() - started < 0.03:
            pass
        observed.append(f"{service}.{operation}")

    monkeypatch.setattr(AwsMeter, "_observe", slow_observe)
    arn = _function(stack, "test-split-reads", "read_table")
    moto_patches.wait_for_streams()  # what earlier tests set off is not in this one's figures
    moto_patches.wait_for_queues()
    with EmulationSplit().attached() as split, AwsMeter().attach("dynamodb"):
        response = stack.client("lambda").invoke(
            FunctionName=arn, Payload=json.dumps({"table": stack.resources.table_name}).encode()
        )
        assert json.loads(response["Payload"].read()) == {"ok": True}
    requests = [o for o in observed if o.startswith("dynamodb.")]
    assert requests.count("dynamodb.GetItem") >= 2 and split.calls["dynamodb"] == len(requests)
    assert 0 < split.seconds["dynamodb"] < 0.03
    assert split.calls["wire_frames"] >= 4  # each request read and its answer written
    assert AwsMeter._observe is slow_observe  # put back as it was found
