"""The API resolver every HTTP function uses: validation, problem+json, request ids."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.router import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import ValidationError

from shared.actor import SYSTEM, acting_as
from shared.api.authentication import API_KEY_HEADER, caller_context, is_public
from shared.api.caller import Caller, caller_from_context
from shared.api.problems import PROBLEM_JSON, from_domain_error, from_validation_error, problem
from shared.errors import DomainError, MalformedInput
from shared.observability import logger


def request_id(app: APIGatewayRestResolver) -> str | None:
    try:
        return app.current_event.request_context.request_id
    except (AttributeError, KeyError, TypeError):
        return None


def current_caller(app: APIGatewayRestResolver | Router) -> Caller:
    context = app.current_event.get("requestContext") or {}
    return caller_from_context(context.get("authorizer"))


def require_json_object(app: APIGatewayRestResolver | Router) -> None:
    """A JSON body that is not an object is malformed (400), whatever a validator made of it."""
    if not isinstance(app.current_event.json_body, dict):
        raise MalformedInput(
            "the body must be a JSON object", errors=[{"field": "body", "message": "a JSON object is expected"}]
        )


def _with_request_id(app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
    response = next_middleware(app)
    rid = request_id(app)
    if rid:
        response.headers["x-request-id"] = rid
    return response


class _ProxyEvent(APIGatewayProxyEvent):
    @cached_property
    def json_body(self) -> Any:
        """A body the JSON parser chokes on (not UTF-8, bad base64, nested past the
        parser's recursion limit) is malformed JSON, a 400, like any other bad JSON."""
        try:
            return super().json_body
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, binascii.Error are ValueErrors
            raise json.JSONDecodeError(f"unreadable body ({type(exc).__name__})", "", 0) from exc


def request_actor(event: dict[str, Any]) -> str:
    """The principal the caller's key named; a signed webhook acts as its sender (``webhook:<name>``)."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    principal = authorizer.get("principal_id") or authorizer.get("principalId")
    if principal:
        return str(principal)
    path = str(event.get("path") or "")
    if path.startswith("/v1/webhooks/"):
        return "webhook:" + path.rstrip("/").rsplit("/", 1)[-1]
    return SYSTEM


def _refusal(
    event: dict[str, Any], status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """A problem answered before routing, as the proxy response the resolver would return."""
    rid = (event.get("requestContext") or {}).get("requestId")
    response = problem(status, title, detail, errors=errors, request_id=rid)
    headers = {"Content-Type": PROBLEM_JSON, **({"x-request-id": rid} if rid else {})}
    return {"statusCode": status, "headers": headers, "body": response.body, "isBase64Encoded": False}


class _Resolver(APIGatewayRestResolver):
    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        if not isinstance(event, dict):
            return super().resolve(event, context)
        refused = self._authenticate(event) or self._refuse(event)
        if refused is not None:
            return refused
        # Everything the request writes on an order's timeline names its caller.
        with acting_as(request_actor(event)):
            return super().resolve(event, context)

    def _authenticate(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """Resolve ``x-api-key`` into ``requestContext.authorizer`` (where a Lambda authorizer
        put its context, so ``current_caller`` reads it); a 401 problem without a valid key.

        Public routes (webhooks, docs) take no key; a path or method this function has no
        route for gets its 404 from routing, with or without a key."""
        request_context = event.get("requestContext")
        if not isinstance(request_context, dict):
            request_context = event["requestContext"] = {}
        # Only this check says who calls: nothing the request brings stands for a principal.
        request_context.pop("authorizer", None)
        method = str(event.get("httpMethod") or "").upper()
        path = str(event.get("path") or "/")
        if is_public(method, path) or not self._routes_to(method, path):
            return None
        try:
            found = caller_context(event)
        except Exception:  # the keys' secret unreadable: a problem, not the gateway's bare 500
            logger.exception("api keys unreadable")
            return _refusal(event, 500, "Internal error", "the caller could not be checked")
        if found is None:
            logger.info("missing or unknown api key")
            return _refusal(event, 401, "Unauthorized", f"a valid {API_KEY_HEADER} header is required")
        request_context["authorizer"] = found
        return None

    def _routes_to(self, method: str, path: str) -> bool:
        """Whether one of this resolver's routes takes the request (as ``_resolve`` matches)."""
        path = self._remove_prefix(path)
        return any(r.method == method and r.rule.match(path) for r in self._static_routes + self._dynamic_routes)

    def _refuse(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """A problem to answer before routing, or None."""
        return None

    def _to_proxy_event(self, event: dict[str, Any]) -> APIGatewayProxyEvent:
        return _ProxyEvent(event, self._json_body_deserializer)


# Deeper than any request body of this API; far below what would exhaust the parser's recursion.
MAX_JSON_DEPTH = 32
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _json_depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            child
            for node in level
            if isinstance(node, dict | list)
            for child in (node.values() if isinstance(node, dict) else node)
        ]
    return depth - 1


def _body_problem(event: dict[str, Any]) -> tuple[int, str, str] | None:
    """What is wrong with a request body before any route sees it: (status, title, detail), or None.

    Only JSON is spoken (415 otherwise); the bytes must be UTF-8 JSON of a sane depth (400)."""
    if str(event.get("httpMethod") or "").upper() not in _BODY_METHODS or not event.get("body"):
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media, *params = [part.strip().lower() for part in headers.get("content-type", "").split(";")]
    if media not in ("", "application/json"):
        return 415, "Unsupported media type", f"send application/json, not {media}"
    charset = next((p.split("=", 1)[1].strip('"') for p in params if p.startswith("charset=")), "utf-8")
    if charset not in ("utf-8", "utf8"):
        return 415, "Unsupported media type", "send the body in UTF-8"
    try:
        raw = base64.b64decode(event["body"], validate=True) if event.get("isBase64Encoded") else None
        text = raw.decode("utf-8") if raw is not None else str(event["body"])
    except (binascii.Error, UnicodeDecodeError):
        return 400, "Malformed request", "the body is not UTF-8 text"
    try:
        parsed = json.loads(text)
    except RecursionError:
        return 400, "Malformed request", f"the body is nested deeper than {MAX_JSON_DEPTH} levels"
    except ValueError:
        return 400, "Malformed request", "the body is not valid JSON"
    if _json_depth(parsed) > MAX_JSON_DEPTH:
        return 400, "Malformed request", f"the body is nested deeper than {MAX_JSON_DEPTH} levels"
    return None


class _JsonResolver(_Resolver):
    """Refuses a body no route could read before routing, as problem+json (never a crash, a 502)."""

    def _refuse(self, event: dict[str, Any]) -> dict[str, Any] | None:
        found = _body_problem(event)
        if found is None:
            return None
        status, title, detail = found
        return _refusal(event, status, title, detail, errors=[{"field": "body", "message": detail}])


def build_app(*routers: Router, json_bodies: bool = True) -> APIGatewayRestResolver:
    """The resolver of an HTTP function; ``json_bodies=False`` for webhooks, whose raw bytes are signed."""
    app = (_JsonResolver if json_bodies else _Resolver)(enable_validation=True)
    app.use([_with_request_id])
    for router in routers:
        app.include_router(router)

    @app.exception_handler(DomainError)
    def _domain(err: DomainError) -> Response[Any]:
        if err.status >= 500:
            logger.warning("request failed", extra={"error": type(err).__name__})
        return from_domain_error(err, request_id(app))

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_: RequestUnsupportedContentType) -> Response[Any]:
        return problem(415, "Unsupported media type", "send application/json", request_id=request_id(app))

    @app.exception_handler(RequestValidationError)
    def _invalid(err: RequestValidationError) -> Response[Any]:
        return from_validation_error(err, request_id(app))

    @app.exception_handler(json.JSONDecodeError)
    def _unreadable(_: json.JSONDecodeError) -> Response[Any]:
        # Reached where a handler reads the body itself (no body model to validate).
        return from_validation_error(RequestValidationError([{"type": "json_invalid"}]), request_id(app))

    @app.exception_handler(ValidationError)
    def _model_invalid(err: ValidationError) -> Response[Any]:
        return from_validation_error(RequestValidationError(err.errors()), request_id(app))

    @app.not_found
    def _not_found(_: Exception) -> Response[Any]:
        return problem(404, "Not found", "no such resource", request_id=request_id(app))

    return app
