"""The API resolver every HTTP function uses: validation, problem+json, request ids."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.router import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import ValidationError

from shared.api.caller import Caller, caller_from_context
from shared.api.problems import from_domain_error, from_validation_error, problem
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


class _Resolver(APIGatewayRestResolver):
    def _to_proxy_event(self, event: dict[str, Any]) -> APIGatewayProxyEvent:
        return _ProxyEvent(event, self._json_body_deserializer)


def build_app(*routers: Router) -> APIGatewayRestResolver:
    app = _Resolver(enable_validation=True)
    app.use([_with_request_id])
    for router in routers:
        app.include_router(router)

    @app.exception_handler(DomainError)
    def _domain(err: DomainError) -> Response[Any]:
        if err.status >= 500:
            logger.warning("request failed", extra={"error": type(err).__name__})
        return from_domain_error(err, request_id(app))

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
