"""The benchmarks' clients' HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.benchmarks.load_clients import Http


class _ClosesUnannounced(BaseHTTPRequestHandler):
    """Answers as HTTP/1.1 with a length, so the connection looks reusable, then closes it
    (as a server closes an idle keep-alive connection): a client that sent its next
    request on it would get no answer."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        answer = json.dumps({"path": self.path, "got": json.loads(body)}).encode()
        self.send_response(201)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ClosesUnannounced)
        self.closed = threading.Semaphore(0)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.release()


@pytest.fixture
def closing_server() -> Iterator[_Server]:
    server = _Server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_http_opens_another_connection_where_the_server_closed_the_last(closing_server: _Server) -> None:
    http = Http(f"http://127.0.0.1:{closing_server.server_port}/base")
    for n in range(3):
        answer = http.post("/v1/orders", {"n": n})
        assert answer.status_code == 201
        assert answer.json() == {"path": "/base/v1/orders", "got": {"n": n}}
        assert closing_server.closed.acquire(timeout=5)  # the server has closed that connection
    assert http.answered == 3
