"""Reading request headers: HTTP header names are case-insensitive, and API Gateway passes
them on in whatever case the sender used."""

from __future__ import annotations

from collections.abc import Mapping


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value by name, whatever its case; None when the request has none."""
    wanted = name.lower()
    return next((str(v) for k, v in (headers or {}).items() if str(k).lower() == wanted), None)
