"""A provider's API that answers with a redirect is never followed: urllib would resend the
POST as a GET to the place the answer names, with the access token or the client
credentials, and read that GET's answer as the POST's."""

from __future__ import annotations

import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions.channels.logic.shopify_admin import AdminRefused, HttpShopifyAdmin
from functions.payments.gateways.gateway import GatewayMisconfigured
from functions.payments.gateways.paypal_gateway import PayPalGateway, fetch_certificate


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """``handler`` on a loopback port, quiet: the server and its base URL."""
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


class Elsewhere:
    """Where the redirects point: records every request and answers as a provider would."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                outer.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                body = b'{"data": {"ok": true}, "access_token": "stolen", "expires_in": 3600}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self.server, self.url = _serve(Handler)


class Redirecting:
    """A provider's host answering every request with ``status`` to the same path ``elsewhere``."""

    def __init__(self, status: int, elsewhere: Elsewhere) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _redirect(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(status)
                self.send_header("Location", f"{elsewhere.url}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _redirect

        self.server, self.url = _serve(Handler)


@pytest.fixture
def elsewhere() -> Iterator[Elsewhere]:
    server = Elsewhere()
    yield server
    server.server.shutdown()


@pytest.fixture(params=[301, 302, 303, 307, 308])
def redirecting(request: pytest.FixtureRequest, elsewhere: Elsewhere) -> Iterator[Redirecting]:
    server = Redirecting(request.param, elsewhere)
    yield server
    server.server.shutdown()


def test_the_shopify_admin_token_does_not_follow_a_redirect(redirecting: Redirecting, elsewhere: Elsewhere) -> None:
    admin = HttpShopifyAdmin("shop.example", "shpat_secret", f"{redirecting.url}/admin/api/graphql.json")
    with pytest.raises(AdminRefused, match="check the shop's domain"):
        admin.graphql("query { shop { name } }", {})
    assert elsewhere.requests == []


def test_the_paypal_credentials_do_not_follow_a_redirect(redirecting: Redirecting, elsewhere: Elsewhere) -> None:
    paypal = PayPalGateway(
        client_id="client", client_secret="secret", webhook_id="WH", api_base=redirecting.url, retry_pause_seconds=0
    )
    with pytest.raises(GatewayMisconfigured, match="check the API base URL"):
        paypal.capture(authorization="AUTH-1", amount=1000, currency="EUR", idempotency_key="cap:1", final=True)
    assert elsewhere.requests == []


def test_a_paypal_certificate_is_read_only_from_the_address_checked(
    redirecting: Redirecting, elsewhere: Elsewhere
) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        fetch_certificate(f"{redirecting.url}/v1/notifications/certs/CERT-1")
    assert 300 <= refused.value.code < 400
    assert elsewhere.requests == []
