"""HMAC-SHA256 over the raw body, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def digest(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (API Gateway keeps the sender's)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def same(given: str | None, expected: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())
