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
    return dict(json.loads(schema))


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
