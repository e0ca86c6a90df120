"""The API's OpenAPI document, generated from the handlers' pydantic models, and its HTML page."""

from __future__ import annotations

import html
import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.event_handler.router import Router

from shared.api.app import build_app

TITLE = "Order Management System API"
VERSION = "1.0.0"

PROBLEM_JSON = "application/problem+json"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# RFC 9457 problem details, as shared/api/problems.py writes every error of every endpoint.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string", "description": "a URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "one entry per invalid field (422) or per reason",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string", "description": "dotted path in the body, or the parameter's name"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
_STATUS_TEXT = {
    400: "Malformed request: the body is not UTF-8 JSON of a sane depth, or not an object",
    401: "No credentials, or unknown ones",
    403: "The caller's role or scope may not do this",
    404: "No such resource (or not visible to this caller)",
    409: "Conflicts with the current state, or an Idempotency-Key reused with another body",
    415: "The body is not application/json",
    422: "Well-formed but invalid: one entry in errors per field",
    429: "Too many requests: try again later",
    503: "Temporarily unavailable: try again later",
}
# Webhooks: no API key; the sender's signature over the raw body is the credential.
WEBHOOK_SIGNATURES: dict[str, list[tuple[str, str]]] = {
    "/v1/webhooks/carriers/{carrier}": [
        ("X-Hmac-Signature", "EasyPost: HMAC-SHA256 of the raw body (carrier easypost)"),
        ("aftership-hmac-sha256", "AfterShip: base64 HMAC-SHA256 of the raw body (carrier aftership)"),
        ("X-OMS-Signature", "any other carrier: sha256=<hex HMAC-SHA256 of the raw body>"),
    ],
    "/v1/webhooks/payments/{provider}": [
        ("Stripe-Signature", "Stripe: t=<unix>,v1=<hex> (provider stripe)"),
        ("Sandbox-Signature", "the sandbox gateway: t=<unix>,v1=<hex> (provider sandbox)"),
    ],
}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer with, besides its successes."""
    statuses = [400, 404, 422, 429, 503]
    if path in WEBHOOK_SIGNATURES:
        return sorted([*statuses, 401, 409])
    statuses += [401, 403]
    if method in ("post", "put", "patch", "delete"):
        statuses.append(409)
    if "requestBody" in operation:
        statuses.append(415)
    return sorted(statuses)


def _document_errors(document: dict[str, Any]) -> None:
    """Every operation's error statuses as problem+json, the schema once in components;
    the webhooks without the API key and with their signature headers."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, method, operation):
                described = responses.get(str(status), {}).get("description")
                if described == "Validation Error":  # the resolver's default, in another shape than ours
                    described = None
                responses[str(status)] = {
                    "description": described or _STATUS_TEXT[status],
                    "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
                }
            if path in WEBHOOK_SIGNATURES:
                operation["security"] = []
                operation.setdefault("parameters", []).extend(
                    {"name": name, "in": "header", "required": False, "description": text, "schema": {"type": "string"}}
                    for name, text in WEBHOOK_SIGNATURES[path]
                )


@lru_cache(maxsize=1)
def openapi_document(routers: tuple[Router, ...]) -> dict[str, Any]:
    app = build_app(*routers)
    schema = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description="Orders, stock, fulfillment, payments and returns. Money in integer minor units.",
        security_schemes={"apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
        security=[{"apiKey": []}],
    )
    document = dict(json.loads(schema))
    _document_errors(document)
    return document


def docs_page(document: dict[str, Any]) -> str:
    rows = []
    for path, operations in sorted(document.get("paths", {}).items()):
        for method, op in operations.items():
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(str(op.get('summary', '')))}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        + html.escape(document["info"]["title"])
        + "</title><style>body{font-family:sans-serif;margin:2em}td{padding:.3em 1em}</style></head><body>"
        + f"<h1>{html.escape(document['info']['title'])} {html.escape(document['info']['version'])}</h1>"
        + "<p>Machine-readable: <a href='/v1/openapi.json'>/v1/openapi.json</a>. "
        + "Authenticate with the <code>x-api-key</code> header. Errors are application/problem+json.</p>"
        + "<table><tr><th>Method</th><th>Path</th><th>Summary</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
