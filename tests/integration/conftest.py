"""Handlers against moto in process: the same provisioning the local stack uses."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict

# Service models parsed once for the session, not by every test's new clients (as the local
# stack's execution environments share them).
from infra.local import lambda_adapter, moto_patches, warm  # noqa: F401
from infra.local.dev_credentials import DEV_API_KEYS
from infra.local.provision import LocalResources, provision
from infra.local.runtime import LambdaContext
from shared import warm_cache


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        lambda_adapter.install()
        moto_patches.install()
        resources = _provisioned()
        for name, value in resources.environment().items():
            monkeypatch.setenv(name, value)
        warm_cache.reset_all()
        yield resources
        _stop_executions(resources)
        moto_patches.wait_for_streams()
        lambda_adapter.uninstall()
    warm_cache.reset_all()


# The provisioned stack of this process: moto's backends as provision() left them (a copy
# no test touches), the registries that hold them, and the resources provision() returned.
_snapshot: tuple[list[tuple[int, str, str, Any]], list[BackendDict[Any]], LocalResources] | None = None


def _provisioned() -> LocalResources:
    """The whole stack, as provision() leaves it, in the fresh backends mock_aws started with.

    Provisioning makes about a hundred AWS calls (most of a second of CPU): it runs once per
    process, and every later test gets its own copy of the backends it left behind, so each
    test still starts from exactly the just-provisioned stack and shares nothing with others.
    """
    global _snapshot
    if _snapshot is not None:
        backends, registries, resources = _snapshot
        for index, account, region, backend in _copy(backends):
            # Indexing registers the account, so mock_aws's reset at exit clears this copy.
            dict.__setitem__(registries[index][account], region, backend)
        return copy.deepcopy(resources)
    resources = provision()
    registries = list(BackendDict._instances)
    backends = [
        (index, account, region, backend)
        for index, registry in enumerate(registries)
        for account, regions in registry.items()
        for region, backend in regions.items()
    ]
    _snapshot = _copy(backends), registries, copy.deepcopy(resources)
    return resources


def _weak_values(weak: weakref.WeakValueDictionary[Any, Any], memo: dict[int, Any]) -> Any:
    # The standard copy keeps the original values, which the copy then holds only weakly
    # (moto's Lambda finds functions by ARN through one): values are copied, as the owners'.
    return weakref.WeakValueDictionary({copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in weak.items()})


# What the copy of moto's models makes anew instead of the standard way.
_COPIERS: dict[type, Any] = {
    type(threading.Lock()): lambda _lock, _memo: threading.Lock(),
    type(threading.RLock()): lambda _lock, _memo: threading.RLock(),
    # An SQS queue's Condition: its methods are its lock's, so a new one, not a copy.
    threading.Condition: lambda _condition, _memo: threading.Condition(),
    weakref.WeakValueDictionary: _weak_values,
}


def _copy(backends: Any) -> Any:
    """A deep copy of moto's models that shares nothing with them."""
    dispatch = copy._deepcopy_dispatch  # type: ignore[attr-defined]
    dispatch.update(_COPIERS)
    try:
        return copy.deepcopy(backends)
    finally:
        for kind in _COPIERS:
            del dispatch[kind]


def _stop_executions(resources: LocalResources) -> None:
    """Executions run on threads: stop them so none writes into the next test's backend."""
    import time

    sfn = boto3.client("stepfunctions")
    stopped = 0
    for arn in resources.state_machines.values():
        for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            with contextlib.suppress(Exception):  # moto cannot stop an execution mid-start
                sfn.stop_execution(executionArn=execution["executionArn"])
            stopped += 1
    if stopped:  # their threads notice at their next step
        time.sleep(0.2)


def caller_context(api_key: str) -> dict[str, str]:
    p = DEV_API_KEYS[api_key]
    locations = p.get("locations") or []
    assert isinstance(locations, list)
    return {
        "principal_id": str(p["principal_id"]),
        "role": str(p["role"]),
        "channel": str(p.get("channel") or ""),
        "locations": ",".join(locations),
    }


def api_event(
    method: str,
    path: str,
    *,
    resource: str,
    body: Any = None,
    key: str | None = "dev-web-key",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The proxy event (payload format 1.0) the HTTP API sends; ``key`` is the caller's
    ``x-api-key``, which the handler resolves from the provisioned API keys secret."""
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    hdrs = {"content-type": "application/json", **({"x-api-key": key} if key else {}), **(headers or {})}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "body": raw,
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "$default",
            "resourcePath": resource,
            "routeKey": f"{method} {resource}",
            "httpMethod": method,
            "path": path,
            "identity": {"sourceIp": "127.0.0.1"},
        },
    }


def call(handler: Any, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    out = handler(event, LambdaContext(function_name="test"))
    headers = {k: v[-1] for k, v in (out.get("multiValueHeaders") or {}).items()} | (out.get("headers") or {})
    body = out.get("body")
    parsed = json.loads(body) if body and headers.get("Content-Type", "").endswith("json") else body
    return out["statusCode"], headers, parsed


def wait_for_execution(arn: str, timeout: float = 10.0) -> dict[str, Any]:
    import time

    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        out = sfn.describe_execution(executionArn=arn)
        if out["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(out)
        time.sleep(0.05)


def wait_for_state(arn: str, state: str, timeout: float = 10.0) -> list[str]:
    """The states the execution entered, once it has entered ``state`` (or the time is up)."""
    import time

    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        if state in entered or time.monotonic() > deadline:
            return entered
        time.sleep(0.05)


def wait_for_fulfillment_wait(order_id: str, timeout: float = 40.0) -> list[dict[str, Any]]:
    """The order's fulfillment orders, once one holds its execution's task token: the
    execution waits on the location (AdvanceOrder parks the token of its own task)."""
    import time

    from functions.fulfill.store import fulfillment_orders_of, parked_token

    deadline = time.monotonic() + timeout
    while True:
        fos = fulfillment_orders_of(order_id)
        if any(parked_token(fo) for fo in fos) or time.monotonic() > deadline:
            return fos
        time.sleep(0.05)


def stock_up(skus: dict[str, int], *, location_id: str = "wh-berlin", lat: float = 52.5, lon: float = 13.4) -> None:
    """A warehouse holding these units, so orders for them allocate."""
    from functions.inventory.store import Location, put_location, set_stock
    from shared.clock import now_iso

    put_location(Location(location_id=location_id, name=location_id, type="warehouse", lat=lat, lon=lon))
    for sku, units in skus.items():
        set_stock(location_id, sku, units, 0, now_iso())
    moto_patches.wait_for_streams()  # its stock-arrival records are behind us


def reads_of_partition(monkeypatch: pytest.MonkeyPatch, *pks: str) -> list[tuple[str, list[str]]]:
    """From now on, this thread's reads of the partitions ``pks`` (not the stream consumers'
    meanwhile): (operation, sort keys named) for each GetItem and BatchGetItem, (``Query``, [])
    for each query."""
    from shared.table import Table

    reads: list[tuple[str, list[str]]] = []
    call, thread = Table._call, threading.get_ident()

    def counted(self: Table, operation: str, **params: Any) -> Any:
        if threading.get_ident() == thread:
            if operation == "Query" and any({"S": pk} in params["ExpressionAttributeValues"].values() for pk in pks):
                reads.append((operation, []))
            elif operation in ("GetItem", "BatchGetItem"):
                keys = (
                    [params["Key"]]
                    if "Key" in params
                    else [k for r in params["RequestItems"].values() for k in r["Keys"]]
                )
                named = sorted(k["sk"]["S"] for k in keys if k["pk"]["S"] in pks)
                if named:
                    reads.append((operation, named))
        return call(self, operation, **params)

    monkeypatch.setattr(Table, "_call", counted)
    return reads
