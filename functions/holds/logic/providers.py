"""External fraud screening behind one interface.

A provider scores an order 0-100; the screening adds its share (the policy's
``weights.provider_pct``) to the rules' points. ``local`` is a deterministic stand-in for
the local stack and tests; an adapter for a real service (Stripe Radar, Signifyd,
Riskified, ...) implements ``FraudProvider`` and is named in ``provider_for``. A provider
that fails leaves the verdict to the rules (recorded with the screening), never the order
stuck.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ProviderScore:
    score: int  # 0 (no risk seen) to 100
    reference: str
    reasons: list[str] = field(default_factory=list)


class FraudProvider(Protocol):
    name: str

    def screen(self, order: Mapping[str, Any]) -> ProviderScore:
        """Score the order header (customer, shipping, payment, totals)."""
        ...


# E-mail domains of throwaway mailboxes the local provider treats as risky.
_DISPOSABLE = frozenset({"mailinator.com", "guerrillamail.com", "10minutemail.com", "fraud.test"})


class LocalProvider:
    """Deterministic: a throwaway e-mail domain scores 80, a payment token naming fraud 100."""

    name = "local"

    def screen(self, order: Mapping[str, Any]) -> ProviderScore:
        email = str((order.get("customer") or {}).get("email") or "").lower()
        token = str((order.get("payment") or {}).get("token") or "").lower()
        reasons = []
        score = 0
        if email.rsplit("@", 1)[-1] in _DISPOSABLE:
            score, reasons = 80, ["disposable_email"]
        if "fraud" in token:
            score, reasons = 100, [*reasons, "payment_token_flagged"]
        return ProviderScore(score=score, reference=f"local-{order.get('order_id')}", reasons=reasons)


def provider_for(name: str) -> FraudProvider | None:
    return {"local": LocalProvider()}.get(name)
