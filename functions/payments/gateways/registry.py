"""The gateway of a payment provider by name, built from its current credentials."""

from __future__ import annotations

import threading

from functions.payments.gateways.gateway import PaymentGateway
from functions.payments.gateways.sandbox import SandboxGateway
from shared.errors import InvalidInput
from shared.integration_secrets import payment_credentials

PROVIDERS = ("sandbox", "stripe")

_lock = threading.Lock()
# provider -> (the credentials it was built with, the gateway): a rotated secret rebuilds it.
_built: dict[str, tuple[dict[str, str], PaymentGateway]] = {}
_overrides: dict[str, PaymentGateway] = {}


def gateway_for(provider: str) -> PaymentGateway:
    """The gateway of ``provider``; InvalidInput for a provider the OMS does not support."""
    if provider in _overrides:
        return _overrides[provider]
    if provider not in PROVIDERS:
        raise InvalidInput(
            f"unknown payment provider {provider!r}",
            errors=[{"field": "provider", "message": f"one of {', '.join(PROVIDERS)}"}],
        )
    credentials = payment_credentials(provider)
    with _lock:
        hit = _built.get(provider)
        if hit and hit[0] == credentials:
            return hit[1]
        gateway = _build(provider, credentials)
        _built[provider] = (credentials, gateway)
        return gateway


def _build(provider: str, credentials: dict[str, str]) -> PaymentGateway:
    secret = credentials.get("webhook_secret", "")
    if provider == "stripe":
        # Imported here: the stripe SDK is slow to import and sandbox-only stacks never need it.
        from functions.payments.gateways.stripe_gateway import StripeGateway

        return StripeGateway(api_key=credentials.get("api_key"), webhook_secret=secret)
    return SandboxGateway(webhook_secret=secret)


def use_gateway(provider: str, gateway: PaymentGateway | None) -> None:
    """Serve ``provider`` with ``gateway`` (a test double); None restores the real one."""
    with _lock:
        if gateway is None:
            _overrides.pop(provider, None)
        else:
            _overrides[provider] = gateway


def reset() -> None:
    """Forget built gateways and overrides."""
    with _lock:
        _built.clear()
        _overrides.clear()
