"""Where outbound webhooks may go: https on public addresses; loopback http only on the local stack."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit


class ForbiddenDestination(ValueError):
    pass


def check_destination(url: str, addresses: Iterable[str], *, allow_loopback: bool) -> None:
    """Refuse a URL that is not https, or whose host resolves to a private, loopback, link-local
    or reserved address (a subscriber must not make the OMS call into its own network).
    ``addresses`` are what the host resolves to; the local stack also accepts http://127.0.0.1."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ForbiddenDestination("the URL has no host")
    ips = [ipaddress.ip_address(a) for a in addresses]
    if not ips:
        raise ForbiddenDestination(f"{parts.hostname} does not resolve")
    if allow_loopback and all(ip.is_loopback for ip in ips) and parts.scheme in ("http", "https"):
        return
    if parts.scheme != "https":
        raise ForbiddenDestination("only https URLs receive webhooks")
    for ip in ips:
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise ForbiddenDestination(f"{parts.hostname} resolves to a non-public address")
