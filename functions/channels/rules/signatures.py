"""Webhook signatures, pure: Shopify's on the way in, Standard Webhooks' on the way out."""

from __future__ import annotations

import base64
import hashlib
import hmac


def shopify_signature(secret: str, body: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256 of the raw body with the app's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(shopify_signature(secret, body).encode(), header.strip().encode())
