"""Carrier and payment provider credentials, from one Secrets Manager secret.

The secret holds ``{"carriers": {name: hmac_secret}, "payments": {provider:
{"webhook_secret", "api_key"?}}, "channels": {platform: {shop: {"webhook_secret", "channel",
"payment_provider"?, "admin_token"?}}}, "pickup": {"code_key"}}``. It is read once per five minutes per execution
environment, so a rotated secret takes effect without a deploy.
"""

from __future__ import annotations

import json
from typing import Any

from shared.aws import client
from shared.errors import NotFound, RetryableError
from shared.settings import get_settings
from shared.warm_cache import WarmCache

_secret = WarmCache(
    "integration_secrets",
    lambda secret_id: json.loads(client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]),
    ttl_seconds=300,
)


def _secrets() -> dict[str, Any]:
    return dict(_secret.get(get_settings().integration_secrets_id))


def carrier_secret(carrier: str) -> str:
    """The HMAC secret of a carrier's webhooks; NotFound for a carrier we do not know."""
    secret = _secrets().get("carriers", {}).get(carrier)
    if not secret:
        raise NotFound(f"no carrier {carrier!r}")
    return str(secret)


def payment_credentials(provider: str) -> dict[str, str]:
    """``{"webhook_secret", "api_key"?}`` of a payment provider; NotFound if unknown."""
    found = _secrets().get("payments", {}).get(provider)
    if not found:
        raise NotFound(f"no payment provider {provider!r}")
    return {str(k): str(v) for k, v in found.items()}


def channel_shop(platform: str, shop: str) -> dict[str, str]:
    """A sales platform's shop (e.g. a Shopify shop domain): its webhook secret and OMS channel."""
    found = _secrets().get("channels", {}).get(platform, {}).get(shop)
    if not found:
        raise NotFound(f"no {platform} shop {shop!r}")
    return {str(k): str(v) for k, v in found.items()}


def channel_shops(platform: str) -> dict[str, dict[str, str]]:
    """Every shop of a sales platform: shop -> its configuration (``channel``, ``admin_token`` ...)."""
    found = _secrets().get("channels", {}).get(platform, {})
    return {str(shop): {str(k): str(v) for k, v in config.items()} for shop, config in found.items()}


def pickup_code_key() -> bytes:
    """The key pickup codes are derived from (only their hashes are stored); RetryableError
    while operators have not set it, so nothing is marked ready with a code no one can send."""
    key = _secrets().get("pickup", {}).get("code_key")
    if not key:
        raise RetryableError("pickup codes are not configured (IntegrationSecrets pickup.code_key)")
    return str(key).encode()
