"""Who may call a route: the API key of every request, checked in the function it reaches.

The HTTP API in front of the functions has no authorizer (its denials cannot be RFC 9457
problems, docs/decisions.md, HTTP API, keys checked in the functions): the resolver of
every API function resolves ``x-api-key`` to its principal before routing.
"""

from __future__ import annotations

import re
from typing import Any

from shared.api.api_keys import principal_for
from shared.api.headers import header

API_KEY_HEADER = "x-api-key"

# The routes anyone may call: webhooks (the handler verifies the sender's signature over
# the raw body) and the API's documentation. They are infra/manifest.py's routes with
# ``authorized=False`` (shared cannot import the manifest, which imports the domains);
# tests/integration/test_api_keys.py holds the two lists equal.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/v1/webhooks/payments/{provider}"),
        ("POST", "/v1/webhooks/carriers/{carrier}"),
        ("POST", "/v1/webhooks/channels/shopify"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/docs"),
    }
)


def _pattern(path: str) -> re.Pattern[str]:
    parts = ["[^/]+" if s.startswith("{") else re.escape(s) for s in path.strip("/").split("/")]
    return re.compile("^/" + "/".join(parts) + "/*$")


_PUBLIC = tuple((method, _pattern(path)) for method, path in sorted(PUBLIC_ROUTES))


def is_public(method: str, path: str) -> bool:
    method = method.upper()
    return any(m == method and p.match(path) for m, p in _PUBLIC)


def caller_context(event: dict[str, Any]) -> dict[str, str] | None:
    """The caller's context (what the authorizer used to pass on), or None for a missing or unknown key."""
    principal = principal_for(header(event.get("headers"), API_KEY_HEADER))
    return principal.context() if principal else None
