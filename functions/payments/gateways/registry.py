"""The gateway of a payment provider by name, built from its current credentials."""

from __future__ import annotations

import threading

from functions.payments.gateways.gateway import PaymentGateway
from functions.payments.gateways.sandbox import SandboxGateway
from shared.errors import InvalidInput
from shared.integration_secrets import payment_credentials
from shared.warm_cache import WarmCache

PROVIDERS = ("sandbox", "stripe", "paypal")

_lock = threading.Lock()
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
    # Keyed by the credentials too: a rotated secret builds a new gateway.
    return _gateways.get((provider, tuple(sorted(payment_credentials(provider).items()))))


def _build(key: tuple[str, tuple[tuple[str, str], ...]]) -> PaymentGateway:
    provider, credentials = key[0], dict(key[1])
    secret = credentials.get("webhook_secret", "")
    if provider == "stripe":
        # Imported here: the stripe SDK is slow to import and sandbox-only stacks never need it.
        from functions.payments.gateways.stripe_gateway import StripeGateway

        return StripeGateway(api_key=credentials.get("api_key"), webhook_secret=secret)
    if provider == "paypal":
        from functions.payments.gateways.paypal_gateway import SANDBOX_API, PayPalGateway

        return PayPalGateway(
            client_id=credentials.get("client_id"),
            client_secret=credentials.get("client_secret"),
            webhook_id=credentials.get("webhook_id", ""),
            api_base=credentials.get("api_base", SANDBOX_API),
        )
    return SandboxGateway(webhook_secret=secret)


_gateways = WarmCache("payment_gateways", _build)  # type: ignore[arg-type]


def use_gateway(provider: str, gateway: PaymentGateway | None) -> None:
    """Serve ``provider`` with ``gateway`` (a test double); None restores the real one."""
    with _lock:
        if gateway is None:
            _overrides.pop(provider, None)
        else:
            _overrides[provider] = gateway


def reset() -> None:
    """Forget the test doubles (built gateways go with ``shared.warm_cache.reset_all``)."""
    with _lock:
        _overrides.clear()
