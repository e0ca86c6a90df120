"""Outbound webhooks: each delivery verifies with the Standard Webhooks reference library, and
only https public destinations are allowed (loopback http on the local stack alone)."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from functions.channels.logic.delivery import deliver
from functions.channels.rules.destinations import ForbiddenDestination, check_destination
from functions.channels.rules.signatures import new_webhook_secret
from shared import warm_cache


class Receiver:
    """A subscriber on 127.0.0.1 that fails its first ``failures`` requests, then accepts."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                if outer.failures > 0:
                    outer.failures -= 1
                    self.send_response(503)
                else:
                    outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def local_stack(monkeypatch):
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "true")
    warm_cache.reset_all()
    yield
    warm_cache.reset_all()


def test_a_delivery_verifies_with_the_reference_algorithm(local_stack):
    receiver = Receiver()
    secret = new_webhook_secret()
    try:
        event = {"type": "order.shipped", "data": {"order_id": "ord_1", "total": 59894}}
        attempt = deliver(receiver.url, secret, "msg_1", event)
        assert attempt.ok
        headers, body = receiver.received[0]
        assert Webhook(secret).verify(body, headers) == event
        with pytest.raises(WebhookVerificationError):
            Webhook(new_webhook_secret()).verify(body, headers)
    finally:
        receiver.close()


def test_a_failing_subscriber_gets_the_same_message_once_it_recovers(local_stack):
    receiver = Receiver(failures=3)
    secret = new_webhook_secret()
    try:
        attempts = [deliver(receiver.url, secret, "msg_2", {"type": "order.created"}) for _ in range(4)]
        assert [a.ok for a in attempts] == [False, False, False, True]
        assert [a.status for a in attempts] == [503, 503, 503, 204]
        headers, body = receiver.received[0]
        assert headers["webhook-id"] == "msg_2"
        assert Webhook(secret).verify(body, headers) == {"type": "order.created"}
    finally:
        receiver.close()


def test_a_redirect_is_a_failed_attempt_and_never_followed(local_stack):
    """A public subscriber answering 3xx could otherwise send the OMS into its own network."""
    inside = Receiver()
    requests_inside: list[str] = []

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(302)
            self.send_header("Location", f"{inside.url}/admin")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    inside.server.RequestHandlerClass.do_GET = lambda handler: requests_inside.append(handler.path)  # type: ignore[attr-defined]
    outside = HTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=outside.serve_forever, daemon=True).start()
    try:
        attempt = deliver(f"http://127.0.0.1:{outside.server_port}/hooks", new_webhook_secret(), "msg_3", {"type": "x"})
        assert (attempt.ok, attempt.status, attempt.error) == (False, 302, "HTTP 302")
        assert requests_inside == [] and inside.received == []
    finally:
        outside.shutdown()
        inside.close()


def test_an_attempt_goes_to_the_address_the_check_accepted(local_stack, monkeypatch):
    """A name looked up again at connection could answer with another address than the one
    checked (DNS rebinding): the attempt is sent to the checked one, named by its host."""
    receiver = Receiver()
    port = receiver.server.server_port
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host, *args, **kwargs):
        if host != "hooks.rebind.test":
            return real(host, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "10.0.0.5"  # inside the network, the second time
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, args[0] if args else 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    secret = new_webhook_secret()
    try:
        attempt = deliver(f"http://hooks.rebind.test:{port}/hooks", secret, "msg_4", {"type": "x"})
        assert attempt.ok, attempt
        assert lookups == ["hooks.rebind.test"]
        headers, body = receiver.received[0]
        assert headers["host"] == f"hooks.rebind.test:{port}"
        assert Webhook(secret).verify(body, headers) == {"type": "x"}
    finally:
        receiver.close()


def _certificate(tmp_path, name: str) -> tuple[str, str, str]:
    """A certificate authority and a server certificate it signed for ``name``: the paths
    of the authority's certificate, the server's certificate and its key (PEM)."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    start, end = datetime.datetime(2026, 1, 1), datetime.datetime(2036, 1, 1)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test authority")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = [tmp_path / f"{name}-ca.pem", tmp_path / f"{name}.pem", tmp_path / f"{name}-key.pem"]
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(paths[0]), str(paths[1]), str(paths[2])


@pytest.mark.parametrize(("named", "delivered"), [("hooks.tls.test", True), ("someone-else.test", False)])
def test_over_tls_the_certificate_is_checked_against_the_host_name(
    local_stack, monkeypatch, tmp_path, named, delivered
):
    """Connecting to the checked address, the TLS handshake still names the host: a
    certificate for another name is refused."""
    ca, certificate, key = _certificate(tmp_path, named)
    receiver = Receiver()
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(certificate, key)
    receiver.server.socket = server_side.wrap_socket(receiver.server.socket, server_side=True)
    port = receiver.server.server_port
    real = socket.getaddrinfo

    def local(host, *args, **kwargs):
        if host == "hooks.tls.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", args[0] if args else 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local)
    monkeypatch.setattr(ssl, "_create_default_https_context", lambda: ssl.create_default_context(cafile=ca))
    try:
        attempt = deliver(f"https://hooks.tls.test:{port}/hooks", new_webhook_secret(), "msg_5", {"type": "x"})
        assert attempt.ok is delivered, attempt
        assert len(receiver.received) == int(delivered)
        if not delivered:
            assert attempt.status is None and "certificate" in (attempt.error or "").lower()
    finally:
        receiver.close()


def test_the_cloud_refuses_http_and_non_public_addresses():
    check_destination("https://hooks.example.com/x", ["93.184.216.34"], allow_loopback=False)
    for url, addresses in [
        ("http://hooks.example.com/x", ["93.184.216.34"]),
        ("https://internal.example.com/x", ["10.0.0.5"]),
        ("https://meta.example.com/x", ["169.254.169.254"]),
        ("https://127.0.0.1/x", ["127.0.0.1"]),
        ("https://nowhere.example.com/x", []),
    ]:
        with pytest.raises(ForbiddenDestination):
            check_destination(url, addresses, allow_loopback=False)
    # The local stack's receivers on loopback, and only loopback.
    check_destination("http://127.0.0.1:9000/x", ["127.0.0.1"], allow_loopback=True)
    with pytest.raises(ForbiddenDestination):
        check_destination("http://10.0.0.5/x", ["10.0.0.5"], allow_loopback=True)


def test_failed_deliveries_wait_longer_each_time_up_to_what_sqs_allows():
    from functions.channels.rules.webhooks import MAX_DELAY_SECONDS, retry_delay

    assert [retry_delay(n, 30) for n in range(1, 8)] == [30, 60, 120, 240, 480, 900, 900]
    assert retry_delay(3, 0) == 0  # the local stack retries at once
    assert max(retry_delay(n, 30) for n in range(1, 50)) == MAX_DELAY_SECONDS


def test_one_delivery_id_per_subscription_and_event():
    from functions.channels.rules.webhooks import delivery_id

    assert delivery_id("whs_1", "evt_1") == delivery_id("whs_1", "evt_1")
    assert len({delivery_id("whs_1", "evt_1"), delivery_id("whs_2", "evt_1"), delivery_id("whs_1", "evt_2")}) == 3


def test_the_event_rule_routes_exactly_the_types_subscribers_may_ask_for():
    from functions.channels.rules.webhooks import WEBHOOK_EVENT_TYPES
    from infra import manifest

    (rule,) = [r for r in manifest.EVENT_RULES if r.queue == "WebhookEvents"]
    assert rule.detail_types == WEBHOOK_EVENT_TYPES == manifest.WEBHOOK_EVENT_TYPES
