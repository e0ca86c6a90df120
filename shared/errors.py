"""Domain exceptions. The data layer raises them, the API layer maps them to HTTP once."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra


class InvalidInput(DomainError):
    """Well-formed but invalid (422)."""

    status = 422
    title = "Unprocessable request"


class MalformedInput(DomainError):
    status = 400
    title = "Malformed request"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The request conflicts with current state (409); also a failed conditional write."""

    status = 409
    title = "Conflict"


class Throttled(DomainError):
    status = 429
    title = "Too many requests"


class RetryableError(DomainError):
    """A transient failure: the caller (Step Functions Retry, SQS redelivery) tries again.

    The class name is what state machines match in ``Retry.ErrorEquals``.
    """

    status = 503
    title = "Temporarily unavailable"
