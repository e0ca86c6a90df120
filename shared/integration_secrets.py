"""Carrier and payment provider credentials, from one Secrets Manager secret.

The secret holds ``{"carriers": {name: hmac_secret}, "payments": {provider:
{"webhook_secret", "api_key"?}}}``. It is read once per five minutes per execution
environment, so a rotated secret takes effect without a deploy.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from shared.aws import client
from shared.errors import NotFound
from shared.settings import get_settings

_TTL_SECONDS = 300
_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _secrets() -> dict[str, Any]:
    secret_id = get_settings().integration_secrets_id
    with _lock:
        hit = _cache.get(secret_id)
        if hit and time.monotonic() - hit[0] < _TTL_SECONDS:
            return hit[1]
        value = json.loads(client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
        _cache[secret_id] = (time.monotonic(), value)
        return dict(value)


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


def clear_cache() -> None:
    with _lock:
        _cache.clear()
