"""Delivering one domain event to one subscriber, signed as Standard Webhooks says.

The same message id goes with every attempt of one event to one subscriber, so a receiver
that saw it already can drop a redelivery (at least once, never silently lost).

An attempt goes to an address the destination check accepted, never to one a second look-up
of the host returns (a name that answered with a public address for the check could answer
with an address inside the OMS's network a moment later), and a redirect is a failed
attempt, never followed: the check covers the address the subscription names, not one a
subscriber's server would send the OMS on to. Stripe treats its webhooks' redirects so.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from functions.channels.rules.destinations import check_destination
from functions.channels.rules.signatures import standard_webhook_signature
from shared.settings import get_settings

TIMEOUT_SECONDS = 10


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


def _socket_to(address: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to ``address`` itself, with no delay, as ``http.client`` opens its own."""
    sock = socket.create_connection((address, port), timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _ToAddress(http.client.HTTPConnection):
    """A connection to the URL's host at one address already resolved and checked."""

    address = ""

    def connect(self) -> None:
        self.sock = _socket_to(self.address, self.port, self.timeout)


class _ToAddressTls(http.client.HTTPSConnection):
    """The same over TLS, the certificate checked against the host's name."""

    address = ""

    def connect(self) -> None:
        raw = _socket_to(self.address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def _post(url: str, addresses: list[str], body: bytes, headers: dict[str, str]) -> int:
    """The status a POST to ``url`` was answered with, sent to the first of ``addresses`` that
    takes the connection."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    kind = _ToAddressTls if tls else _ToAddress
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    error: OSError | None = None
    for address in addresses:
        connection = kind(parts.hostname or "", parts.port or (443 if tls else 80), timeout=TIMEOUT_SECONDS)
        connection.address = address
        try:
            connection.connect()
        except OSError as err:
            connection.close()
            error = err
            continue
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()
    raise error or OSError("no address to send to")


def deliver(url: str, secret: str, msg_id: str, payload: Mapping[str, Any], *, now: int | None = None) -> Attempt:
    """POST the payload once; a 2xx is delivered, anything else (or no answer) is a failure."""
    addresses = resolve(url)
    check_destination(url, addresses, allow_loopback=get_settings().webhooks_allow_loopback)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time()) if now is None else now
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_webhook_signature(secret, msg_id, timestamp, body),
    }
    try:
        status = _post(url, addresses, body, headers)
    except (OSError, http.client.HTTPException) as err:
        return Attempt(ok=False, status=None, error=str(err)[:200] or type(err).__name__)
    if 200 <= status < 300:
        return Attempt(ok=True, status=status)
    return Attempt(ok=False, status=status, error=f"HTTP {status}")
