"""Delivering one domain event to one subscriber, signed as Standard Webhooks says.

The same message id goes with every attempt of one event to one subscriber, so a receiver
that saw it already can drop a redelivery (at least once, never silently lost).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from functions.channels.rules.destinations import check_destination
from functions.channels.rules.signatures import standard_webhook_signature
from shared.settings import get_settings

TIMEOUT_SECONDS = 10


class _RedirectRefused(urllib.request.HTTPRedirectHandler):
    """A subscriber's redirect is a failed attempt, never followed: the destination check
    covers the address the subscription names, and a redirect could point the OMS anywhere,
    into its own network too. Stripe treats a 3xx answer to a webhook the same way."""

    def redirect_request(self, *args: Any) -> None:
        return None


_opener = urllib.request.build_opener(_RedirectRefused)


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None
    error: str | None = None


def resolve(url: str) -> list[str]:
    host = urlsplit(url).hostname or ""
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
    except socket.gaierror:
        return []


def deliver(url: str, secret: str, msg_id: str, payload: Mapping[str, Any], *, now: int | None = None) -> Attempt:
    """POST the payload once; a 2xx is delivered, anything else (or no answer) is a failure."""
    check_destination(url, resolve(url), allow_loopback=get_settings().webhooks_allow_loopback)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time()) if now is None else now
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_webhook_signature(secret, msg_id, timestamp, body),
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return Attempt(ok=200 <= response.status < 300, status=response.status)
    except urllib.error.HTTPError as err:
        return Attempt(ok=False, status=err.code, error=f"HTTP {err.code}")
    except (urllib.error.URLError, OSError) as err:
        return Attempt(ok=False, status=None, error=str(err)[:200])
