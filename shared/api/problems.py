"""RFC 9457 problem details: the one mapping from errors to HTTP responses."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from shared.errors import DomainError

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://oms.dev/problems/"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> Response[Any]:
    body: dict[str, Any] = {
        "type": _TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
        **extra,
    }
    headers = {"x-request-id": request_id} if request_id else None
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body), headers=headers)


def from_domain_error(err: DomainError, request_id: str | None) -> Response[Any]:
    return problem(err.status, err.title, err.detail, errors=err.errors, request_id=request_id, **err.extra)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts[0]
        parts = parts[1:]
        if where != "body" and parts:
            return parts[-1]
    return ".".join(parts) or "body"


def from_validation_error(err: RequestValidationError, request_id: str | None) -> Response[Any]:
    """Malformed JSON is 400; a well-formed body that breaks the schema is 422."""
    raw = err.errors()
    if any(e.get("type") == "json_invalid" for e in raw):
        return problem(
            400,
            "Malformed request",
            "the body is not valid JSON",
            errors=[{"field": "body", "message": "not valid JSON"}],
            request_id=request_id,
        )
    errors = [{"field": _field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in raw]
    if any(e.get("type") == "model_attributes_type" and len(e.get("loc", ())) <= 1 for e in raw):
        return problem(400, "Malformed request", "the body must be a JSON object", errors=errors, request_id=request_id)
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem(422, "Unprocessable request", f"invalid fields: {fields}", errors=errors, request_id=request_id)
