"""The routes the stack serves agree with the OpenAPI document and with the public contract, docs/api.md."""

from __future__ import annotations

import re

from functions.ops.handlers.api import ROUTERS
from functions.ops.logic.openapi_doc import openapi_document
from infra import manifest

API_MD = manifest.ROOT / "docs" / "api.md"
# Served but absent from the contract, each with its reason.
ADDITIONS: set[tuple[str, str]] = {
    # The routing strategy, weights and rules are configuration that operators edit.
    ("GET", "/v1/config/routing"),
    ("PUT", "/v1/config/routing"),
    # Bulk stock files from a WMS or ERP, applied row by row through a queue.
    ("POST", "/v1/inventory/imports"),
    ("GET", "/v1/inventory/imports/{import_id}"),
    # One fulfillment order, and its pick list (JSON, or printable with ?format=html).
    ("GET", "/v1/fulfillment-orders/{fo_id}"),
    ("GET", "/v1/fulfillment-orders/{fo_id}/pick-list"),
}


def _contract_routes() -> set[tuple[str, str]]:
    text = API_MD.read_text()
    routes = set()
    for verb, path in re.findall(r"`(GET|POST|PUT|DELETE|PATCH) (/v1/[^`?\s]*)", text):
        routes.add((verb, path))
    # "`POST /v1/fulfillment-orders/{fo_id}/accept` | `/pick` | `/pack`" style alternatives
    for base, rest in re.findall(r"`POST (/v1/[^`]*)/accept` \| ([^\n]*)", text):
        for suffix in re.findall(r"`(/\w+)`", rest):
            routes.add(("POST", base + suffix))
    return routes


def test_every_served_route_is_in_the_openapi_document():
    paths = openapi_document(ROUTERS)["paths"]
    for route in manifest.ROUTES:
        if route.path in ("/v1/openapi.json", "/v1/docs"):
            continue
        assert route.method.lower() in paths.get(route.path, {}), route


def test_every_documented_operation_is_served():
    paths = openapi_document(ROUTERS)["paths"]
    served = {(r.method, r.path) for r in manifest.ROUTES}
    for path, operations in paths.items():
        for method in operations:
            assert (method.upper(), path) in served, (method, path)


def test_every_served_route_is_in_the_public_contract():
    contract = _contract_routes()
    assert ("POST", "/v1/orders") in contract  # the parser still reads the contract
    for route in manifest.ROUTES:
        assert (route.method, route.path) in contract | ADDITIONS, route
