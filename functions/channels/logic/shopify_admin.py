"""A small Shopify Admin API client (GraphQL), behind one interface the tests can swap.

The endpoint is ``https://<shop>/admin/api/<version>/graphql.json`` with the shop's access
token (``X-Shopify-Access-Token``, the integration secret's ``admin_token``); a shop's
``admin_api_url`` replaces it (the local stack's fake Admin API). Network errors, 429,
5xx and Shopify's ``THROTTLED`` answers raise ``AdminUnavailable`` (try again later); a
refused request (401/403/404, GraphQL errors) raises ``AdminRefused`` (retrying cannot help),
and so does a redirect, which is never followed (the token would go with it).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from functions.channels.rules.shopify_status import API_VERSION
from shared import outbound_http

TIMEOUT_SECONDS = 10


class AdminUnavailable(Exception):
    """Shopify could not answer now (network, 429, 5xx, throttled): try again later."""


class AdminRefused(Exception):
    """Shopify refused the request; sending it again will not change that."""


class ShopifyAdmin(Protocol):
    def graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The ``data`` of the answer."""
        ...


class HttpShopifyAdmin:
    def __init__(self, shop: str, token: str, api_url: str | None = None):
        if not token:
            raise AdminRefused(f"shop {shop} has no admin_token")
        self.url = api_url or f"https://{shop}/admin/api/{API_VERSION}/graphql.json"
        self._token = token

    def graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": dict(variables)}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "X-Shopify-Access-Token": self._token},
        )
        try:
            with outbound_http.urlopen(request, TIMEOUT_SECONDS) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            if err.code == 429 or err.code >= 500:
                raise AdminUnavailable(f"Shopify answered {err.code}") from err
            if 300 <= err.code < 400:
                where = err.headers.get("Location") if err.headers else None
                raise AdminRefused(f"Shopify answered {err.code} to {where}: check the shop's domain") from err
            raise AdminRefused(f"Shopify answered {err.code}") from err
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise AdminUnavailable(f"Shopify unreachable: {err}") from err
        errors = answer.get("errors") or []
        if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors if isinstance(e, dict)):
            raise AdminUnavailable("Shopify throttled the request")
        if errors:
            raise AdminRefused(f"Shopify refused the request: {errors}")
        return dict(answer.get("data") or {})
