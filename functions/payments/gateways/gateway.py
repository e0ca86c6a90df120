"""The one interface every payment provider is used through, its results and its errors.

Amounts are integers in minor units. Every money-moving call takes an idempotency key:
the same key twice returns the same result and moves no money twice, so a retried step
(Step Functions, SQS redelivery, a Lambda re-run) is always safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from shared.errors import Conflict, DomainError, RetryableError, Unauthorized

WebhookKind = Literal[
    "authorization.expired",
    "capture.failed",
    "refund.succeeded",
    "refund.failed",
    "refund.external",  # the provider's running total refunded on a payment (refunds made outside the OMS count)
    "dispute.opened",
    "dispute.closed",
    "other",
]
WEBHOOK_KINDS: frozenset[str] = frozenset(get_args(WebhookKind))

RefundStatus = Literal["succeeded", "pending", "failed"]


class PaymentDeclined(DomainError):
    """The provider refused the authorization. The workflow's Catch matches this class name."""

    status = 422
    title = "Payment declined"

    def __init__(self, detail: str, *, reason: str):
        super().__init__(detail, reason=reason)
        self.reason = reason


class GatewayUnavailable(RetryableError):
    """Transient: network, provider 5xx, rate limit, lock timeout. Try again, same key."""


class GatewayMisconfigured(DomainError):
    """The provider refused our credentials or the provider is not set up: not retryable."""

    title = "Payment provider misconfigured"


class AuthorizationExpired(Conflict):
    """The authorization can no longer be captured; authorize again to take the money."""


class CaptureFailed(Conflict):
    def __init__(self, detail: str, *, reason: str):
        super().__init__(detail, reason=reason)
        self.reason = reason


class RefundFailed(Conflict):
    def __init__(self, detail: str, *, reason: str):
        super().__init__(detail, reason=reason)
        self.reason = reason


class InvalidSignature(Unauthorized):
    """A webhook whose signature is missing, wrong or too old."""


@dataclass(frozen=True)
class Authorization:
    reference: str
    amount: int
    currency: str
    expires_at: str | None  # ISO 8601 UTC; None when the provider does not say
    multicapture: bool  # several partial captures allowed, not only one
    # The provider's charge behind the authorization, when it has one apart from it
    # (Stripe: the PaymentIntent's charge; some events name only the charge).
    charge_reference: str | None = None


@dataclass(frozen=True)
class Capture:
    reference: str
    amount: int
    authorization: str


@dataclass(frozen=True)
class Refund:
    reference: str
    amount: int
    status: RefundStatus
    failure_reason: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    provider: str
    event_id: str
    kind: WebhookKind
    occurred_at: str  # ISO 8601 UTC
    reference: str  # the authorization, capture or refund the event is about
    payment_reference: str | None  # the authorization it belongs to, when known
    amount: int | None
    reason: str | None
    raw_type: str  # the provider's own event type
    # Orders events about one thing that carry the same second: a later stage has a higher
    # number (a dispute: opened 0, under review 1, closed 2).
    sequence: int = 0


class PaymentGateway(Protocol):
    name: str

    def authorize(
        self, *, token: str, amount: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> Authorization: ...

    def capture(self, *, authorization: str, amount: int, currency: str, idempotency_key: str, final: bool) -> Capture:
        """Capture part of an authorization; ``final`` releases whatever is left uncaptured."""
        ...

    def void(self, *, authorization: str, idempotency_key: str) -> None:
        """Cancel the uncaptured authorization."""
        ...

    def refund(self, *, capture: str, amount: int, currency: str, idempotency_key: str) -> Refund: ...

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """The event of a provider webhook; InvalidSignature unless it is authentic and recent."""
        ...
