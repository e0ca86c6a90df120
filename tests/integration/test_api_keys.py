"""Every authorized route checks the caller's API key in its function (there is no gateway
authorizer): a missing or unknown key is a 401 problem, a key of the wrong role a 403."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest

from infra import manifest
from shared.api.authentication import PUBLIC_ROUTES
from tests.integration.conftest import api_event, call

pytestmark = pytest.mark.usefixtures("aws")

AUTHORIZED = [r for r in manifest.ROUTES if r.authorized]


def handler_of(function: str) -> Any:
    module, _, name = manifest.function(function).handler.rpartition(".")
    return getattr(importlib.import_module(module), name)


def request(
    route: manifest.Route, key: str | None, headers: dict[str, str] | None = None, **over: Any
) -> dict[str, Any]:
    params = {name: f"x-{name}" for name in re.findall(r"{(\w+)}", route.path)}
    path = route.path.format(**params)
    body = {} if route.method in ("POST", "PUT", "PATCH") else None
    return api_event(
        route.method,
        path,
        resource=route.path,
        key=key,
        body=body,
        headers=headers,
        path_parameters=params or None,
        **over,
    )


def assert_problem(out: tuple[int, dict[str, str], Any], status: int) -> dict[str, Any]:
    got, headers, body = out
    assert got == status, body
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["x-request-id"]
    assert body["status"] == status and body["title"]
    return dict(body)


@pytest.mark.parametrize("route", AUTHORIZED, ids=lambda r: f"{r.method} {r.path}")
def test_an_authorized_route_cannot_be_called_without_a_key(route: manifest.Route) -> None:
    body = assert_problem(call(handler_of(route.function), request(route, key=None)), 401)
    assert "x-api-key" in body["detail"]


@pytest.mark.parametrize("key", [None, "", "not-a-key", "dev-ops-key "])
def test_a_missing_or_unknown_key_is_401(key: str | None) -> None:
    (route,) = [r for r in manifest.ROUTES if r.path == "/v1/orders" and r.method == "GET"]
    headers = {"x-api-key": key} if key is not None else None
    assert_problem(call(handler_of(route.function), request(route, key=None, headers=headers)), 401)


def test_the_header_name_is_case_insensitive() -> None:
    (route,) = [r for r in manifest.ROUTES if r.path == "/v1/me"]
    status, _, body = call(handler_of(route.function), request(route, key=None, headers={"X-Api-Key": "dev-ops-key"}))
    assert status == 200 and body["principal_id"] == "ops-1"


def test_a_key_of_the_wrong_role_is_403() -> None:
    (route,) = [r for r in manifest.ROUTES if r.path == "/v1/config/routing" and r.method == "PUT"]
    event = request(route, key="dev-web-key")
    assert_problem(call(handler_of(route.function), event), 403)


def test_a_caller_context_the_request_brings_stands_for_no_one() -> None:
    (route,) = [r for r in manifest.ROUTES if r.path == "/v1/me"]
    event = request(route, key=None)
    event["requestContext"]["authorizer"] = {"principal_id": "ops-1", "role": "ops"}
    assert_problem(call(handler_of(route.function), event), 401)
    # With a key, the key's principal, not the one the request named.
    event = request(route, key="dev-web-key")
    event["requestContext"]["authorizer"] = {"principal_id": "ops-1", "role": "ops"}
    status, _, body = call(handler_of(route.function), event)
    assert status == 200 and (body["principal_id"], body["role"]) == ("channel-web", "channel")


def test_the_key_comes_before_the_body() -> None:
    (route,) = [r for r in manifest.ROUTES if r.path == "/v1/orders" and r.method == "POST"]
    event = request(route, key=None)
    event["body"] = "{not json"
    assert_problem(call(handler_of(route.function), event), 401)


def test_public_routes_take_no_key() -> None:
    status, _, body = call(
        handler_of("OpsApi"), api_event("GET", "/v1/openapi.json", resource="/v1/openapi.json", key=None)
    )
    assert status == 200 and "paths" in body
    # A webhook is answered on its signature, not on a key (this one carries none: 401 from its check).
    webhook = api_event(
        "POST",
        "/v1/webhooks/carriers/dhl",
        resource="/v1/webhooks/carriers/{carrier}",
        key=None,
        body=json.dumps({}),
        path_parameters={"carrier": "dhl"},
    )
    status, _, body = call(handler_of("CarrierWebhooks"), webhook)
    assert status != 200 and "x-api-key" not in json.dumps(body)


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nowhere"), ("DELETE", "/v1/orders"), ("PUT", "/v1/me")])
def test_what_no_route_takes_is_404_with_or_without_a_key(method: str, path: str) -> None:
    default = handler_of(manifest.DEFAULT_ROUTE_FUNCTION)
    for key in (None, "dev-ops-key"):
        event = api_event(method, path, resource="$default", key=key)
        assert_problem(call(default, event), 404)


def test_the_public_routes_are_the_manifests() -> None:
    assert {(r.method, r.path) for r in manifest.ROUTES if not r.authorized} == PUBLIC_ROUTES


def test_every_function_that_checks_keys_may_read_them() -> None:
    for route in AUTHORIZED:
        assert "secrets:api-keys" in manifest.function(route.function).grants, route.function


def test_unreadable_keys_are_a_500_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.api import authentication

    def fail(_: str | None) -> None:
        raise RuntimeError("secrets manager unavailable")

    monkeypatch.setattr(authentication, "principal_for", fail)
    (route,) = [r for r in manifest.ROUTES if r.path == "/v1/me"]
    assert_problem(call(handler_of(route.function), request(route, key="dev-ops-key")), 500)
