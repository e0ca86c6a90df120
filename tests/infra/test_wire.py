"""The environments' AWS requests over a Unix socket (infra/local/wire.py): the emulator's
application sees what werkzeug's server would hand it for the same request over HTTP, and
the SDK gets the same answer and the same failures."""

from __future__ import annotations

import contextlib
import email.utils
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.awsrequest
import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError
from botocore.httpsession import URLLib3Session
from werkzeug.serving import make_server

from infra.local import moto_patches, wire

_UNCOMPARABLE = {"wsgi.input", "wsgi.errors", "werkzeug.socket", "REMOTE_PORT"}


class _Recorder:
    """A WSGI application that keeps each environ and body and answers with a fixed response."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, Any], bytes]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.seen.append(({k: v for k, v in environ.items() if k not in _UNCOMPARABLE}, body))
        answer = json.dumps({"Item": {"pk": {"S": "a"}}}).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", "r-1"), ("Connection", "close")],
        )
        return [answer]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[_Recorder, str, _Recorder, str]]:
    """The same kind of application behind werkzeug's server (as the stack runs moto) and the socket."""
    over_http, over_socket = _Recorder(), _Recorder()
    http = make_server("127.0.0.1", 0, over_http, True, request_handler=moto_patches.KeepAliveRequestHandler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    port = http.server_port
    socket_server = wire.WireServer(over_socket, str(tmp_path / "aws.sock"), "127.0.0.1", port).start()
    try:
        yield over_http, f"http://127.0.0.1:{port}", over_socket, socket_server.path
    finally:
        http.shutdown()
        socket_server.stop()
        wire._drop_connection()


def prepared_request(service: str, endpoint: str, call: str, **params: Any) -> botocore.awsrequest.AWSPreparedRequest:
    """The request the SDK would send for ``call``, signed, caught before it leaves."""
    client = boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    caught: list[Any] = []

    def catch(request: Any, **_: Any) -> Any:
        caught.append(request)
        return botocore.awsrequest.AWSResponse(request.url, 200, {}, None)

    client.meta.events.register("before-send", catch)
    with contextlib.suppress(Exception):  # the empty answer need not parse: only the request is wanted
        getattr(client, call)(**params)
    return caught[0]


# Requests of each protocol the handlers speak: JSON (DynamoDB, SQS, Step Functions,
# EventBridge, Secrets Manager) and REST-JSON with a path, a query string and no body (SES).
REQUESTS = [
    ("dynamodb", "get_item", {"TableName": "t", "Key": {"pk": {"S": "é ü"}}}),
    ("sqs", "send_message", {"QueueUrl": "http://127.0.0.1:1/123456789012/q", "MessageBody": "x" * 3000}),
    ("stepfunctions", "send_task_success", {"taskToken": "tok/en+=", "output": "{}"}),
    ("events", "put_events", {"Entries": [{"Source": "oms", "DetailType": "d", "Detail": "{}"}]}),
    ("secretsmanager", "get_secret_value", {"SecretId": "oms/key"}),
    ("sesv2", "get_email_identity", {"EmailIdentity": "ops team+1@example.com"}),
    ("sesv2", "list_email_identities", {"PageSize": 5, "NextToken": "a b/c"}),
    # REST-XML with a body and a header werkzeug drops (its underscore) that moto keeps.
    ("s3", "put_object", {"Bucket": "b", "Key": "a b/ü.txt", "Body": b"data", "Metadata": {"my_key": "v"}}),
]


@pytest.mark.parametrize(("service", "call", "params"), REQUESTS, ids=[f"{r[0]}.{r[1]}" for r in REQUESTS])
def test_the_application_sees_the_request_as_over_http(
    servers: tuple[_Recorder, str, _Recorder, str], service: str, call: str, params: dict[str, Any]
) -> None:
    over_http, endpoint, over_socket, path = servers
    request = prepared_request(service, endpoint, call, **params)
    by_http = URLLib3Session().send(request)
    request.reset_stream()  # a file-like body (S3's) is read again, as the SDK's retries read it
    by_socket = wire.send(path, request, timeout=10)

    (http_environ, http_body), (socket_environ, socket_body) = over_http.seen[0], over_socket.seen[0]
    assert socket_environ == http_environ
    request.reset_stream()
    sent = request.body.read() if hasattr(request.body, "read") else request.body or b""
    assert socket_body == http_body == (sent.encode() if isinstance(sent, str) else sent)

    assert (by_socket.status_code, by_socket.content) == (by_http.status_code, by_http.content)
    # The clock's at each answer, and how HTTP frames a body (werkzeug chunks the answer to
    # a request that expects 100-continue, S3's), which the SDK reads the same either way.
    framing = {"date", "connection", "transfer-encoding", "content-length"}
    assert {k: v for k, v in by_socket.headers.items() if k.lower() not in framing} == {
        k: v for k, v in by_http.headers.items() if k.lower() not in framing
    }


def test_a_connection_is_kept_for_the_next_request(servers: tuple[_Recorder, str, _Recorder, str]) -> None:
    _, endpoint, over_socket, path = servers
    request = prepared_request("dynamodb", endpoint, "get_item", TableName="t", Key={"pk": {"S": "a"}})
    wire.send(path, request, timeout=10)
    first = wire._connections.sock
    wire.send(path, request, timeout=10)
    assert first is not None and wire._connections.sock is first
    assert len(over_socket.seen) == 2


def test_each_socket_has_its_own_connection(servers: tuple[_Recorder, str, _Recorder, str], tmp_path: Path) -> None:
    """A thread that sent to one emulator and then to another reaches the other."""
    _, endpoint, first, path = servers
    second = _Recorder()
    other = wire.WireServer(second, str(tmp_path / "other.sock"), "127.0.0.1", 1).start()
    try:
        request = prepared_request("dynamodb", endpoint, "get_item", TableName="t", Key={"pk": {"S": "a"}})
        wire.send(path, request, timeout=10)
        wire.send(other.path, request, timeout=10)
        assert (len(first.seen), len(second.seen)) == (1, 1)
    finally:
        other.stop()


def test_no_socket_is_the_sdks_connection_error(tmp_path: Path) -> None:
    """An error the SDK retries, as it retries a refused HTTP connection."""
    request = prepared_request("dynamodb", "http://127.0.0.1:1", "get_item", TableName="t", Key={"pk": {"S": "a"}})
    with pytest.raises(EndpointConnectionError):
        wire.send(str(tmp_path / "missing.sock"), request, timeout=1)


def test_a_connection_the_emulator_dropped_is_the_sdks_closed_connection_and_then_made_again(
    servers: tuple[_Recorder, str, _Recorder, str],
) -> None:
    _, endpoint, over_socket, path = servers
    request = prepared_request("dynamodb", endpoint, "get_item", TableName="t", Key={"pk": {"S": "a"}})
    wire.send(path, request, timeout=10)
    assert wire._connections.sock is not None
    wire._connections.sock.shutdown(2)  # as when the emulator stops or the connection breaks
    with pytest.raises(ConnectionClosedError):
        wire.send(path, request, timeout=10)
    assert wire.send(path, request, timeout=10).status_code == 200
    assert len(over_socket.seen) == 2


def test_an_answer_slower_than_the_clients_read_timeout_is_the_sdks_read_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As over HTTP: the SDK gives up after its read timeout (and retries), never waits forever."""
    import time

    from botocore.config import Config
    from botocore.exceptions import ReadTimeoutError

    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        time.sleep(3)
        start_response("200 OK", [])
        return [b"{}"]

    server = wire.WireServer(slow, str(tmp_path / "slow.sock"), "127.0.0.1", 1).start()
    monkeypatch.setattr(URLLib3Session, "send", URLLib3Session.send)  # restored after the test
    wire.install_client(server.path, "http://127.0.0.1:1")
    client = boto3.session.Session().client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:1",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(connect_timeout=1, read_timeout=0.5, retries={"max_attempts": 1}),
    )
    try:
        with pytest.raises(ReadTimeoutError):  # without a timeout the call would succeed after 3 s
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    finally:
        server.stop()
        wire._drop_connection()


def test_only_requests_to_the_emulator_take_the_socket(
    servers: tuple[_Recorder, str, _Recorder, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    over_http, endpoint, over_socket, path = servers
    monkeypatch.setattr(URLLib3Session, "send", URLLib3Session.send)  # restored after the test
    wire.install_client(path, "http://127.0.0.1:1")  # another endpoint than the server's
    URLLib3Session().send(prepared_request("dynamodb", endpoint, "get_item", TableName="t", Key={"pk": {"S": "a"}}))
    assert (len(over_http.seen), len(over_socket.seen)) == (1, 0)

    wire.install_client(path, endpoint)
    URLLib3Session().send(prepared_request("dynamodb", endpoint, "get_item", TableName="t", Key={"pk": {"S": "a"}}))
    assert (len(over_http.seen), len(over_socket.seen)) == (1, 1)


class _Gated:
    """An application that holds the callers' request until told, and notes what reached it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.caller_inside = threading.Event()
        self.release_caller = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.seen.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/caller":
            self.caller_inside.set()
            self.release_caller.wait(10)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


def _ask(path: str, target: str) -> int:
    """One request over the socket at ``path``; the answer's status."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        wire._write_frame(sock, ("POST", target, [("Host", "127.0.0.1:1")], b"{}"))
        with sock.makefile("rb") as stream:
            status: int = wire._read_frame(stream)[0]
            return status


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[_Gated, wire.WireServer]]:
    app = _Gated()
    server = wire.WireServer(app, str(tmp_path / "aws.sock"), "127.0.0.1", 1, str(tmp_path / "callers.sock")).start()
    try:
        yield app, server
    finally:
        app.release_caller.set()
        server.stop()


def _caller_under_way(app: _Gated, server: wire.WireServer, patience: float) -> threading.Thread:
    """A caller's request, held in the application until ``app.release_caller`` is set."""
    server.precedence.patience = patience
    assert server.callers_path is not None
    caller = threading.Thread(target=_ask, args=(server.callers_path, "/caller"))
    caller.start()
    assert app.caller_inside.wait(5)
    return caller


def test_a_background_request_waits_for_the_callers_request_under_way(
    gated: tuple[_Gated, wire.WireServer],
) -> None:
    app, server = gated
    caller = _caller_under_way(app, server, patience=10.0)
    background = threading.Thread(target=_ask, args=(server.path, "/background"))
    background.start()
    background.join(0.5)
    assert app.seen == ["/caller"] and background.is_alive()  # held back, not answered alongside
    app.release_caller.set()
    caller.join(5)
    background.join(5)
    assert app.seen == ["/caller", "/background"]
    assert (server.served, server.served_callers) == (2, 1)


def test_a_background_request_waits_no_longer_than_its_patience(gated: tuple[_Gated, wire.WireServer]) -> None:
    app, server = gated
    caller = _caller_under_way(app, server, patience=0.2)
    assert _ask(server.path, "/background") == 200  # answered while the caller's request still runs
    assert not app.release_caller.is_set() and app.seen == ["/caller", "/background"]
    app.release_caller.set()
    caller.join(5)


def test_the_date_header_is_written_once_a_second_and_names_the_second(
    servers: tuple[_Recorder, str, _Recorder, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, endpoint, _, path = servers
    written: list[float | None] = []
    formatdate = email.utils.formatdate

    def counted(timeval: float | None = None, **kw: Any) -> str:
        written.append(timeval)
        return formatdate(timeval, **kw)

    monkeypatch.setattr(email.utils, "formatdate", counted)
    dates = []
    started = time.time()
    for _ in range(20):
        answer = wire.send(path, prepared_request("dynamodb", endpoint, "get_item", TableName="t", Key={}), timeout=10)
        dates.append(email.utils.parsedate_to_datetime(answer.headers["Date"]).timestamp())
    assert len(written) <= 1 + int(time.time() - started) + 1  # a second boundary may fall inside
    assert all(int(started) <= d <= time.time() for d in dates)
