"""AWS requests from the function environments to the emulator over a Unix socket.

Over HTTP a request cost the environment's SDK about 0.3 ms of CPU in urllib3 and
http.client (writing the request, parsing the status line and headers of the answer)
and the emulator about 0.1 ms more in http.server and werkzeug before moto saw it
(docs/decisions.md). Here the SDK still builds, retries and parses every request as it
does in the cloud (it leaves out only the signature, which the emulator never checks:
``install_client``); only the bytes between it and the emulator's WSGI application
travel differently: a frame with the method, target, headers and body, answered by a
frame with the status, headers and body. The application sees the environ werkzeug's
server makes of the same request (``environ``), so moto answers it the same way.

Callers outside the environments (the CLI, the tests, the demo) still use HTTP.
"""

from __future__ import annotations

import contextlib
import email.utils
import importlib.metadata
import io
import logging
import marshal
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

# Where the environments find the socket (set by the stack for every function), and the
# socket of the environments some caller waits on (the API's functions).
SOCKET_ENV = "OMS_LOCAL_AWS_SOCKET"
CALLER_SOCKET_ENV = "OMS_LOCAL_AWS_CALLER_SOCKET"
# How long a background request waits for the callers' requests under way to be answered.
CALLER_PRECEDENCE_SECONDS = float(os.environ.get("OMS_LOCAL_CALLER_PRECEDENCE_SECONDS", "0.1"))
_LENGTH = struct.Struct("!I")
_PYTHON = "Python/" + sys.version.split()[0]  # http.server's sys_version

Request = tuple[str, str, list[tuple[str, str]], bytes]  # method, target, headers, body
Answer = tuple[int, str, list[tuple[str, str]], bytes]  # status, reason, headers, body


def _write_frame(sock: socket.socket, value: Any) -> None:
    payload = marshal.dumps(value)
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _read_frame(stream: io.BufferedReader) -> Any:
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        raise EOFError("the connection closed")
    (length,) = _LENGTH.unpack(header)
    payload = stream.read(length)
    if len(payload) < length:
        raise EOFError("the connection closed mid-frame")
    return marshal.loads(payload)


def environ(request: Request, server_name: str, server_port: int, software: str) -> dict[str, Any]:
    """The WSGI environ moto's request handler for werkzeug's server makes of the same
    request, its body already read. (moto is imported here, never in the environments.)"""
    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY

    method, target, headers, body = request
    url = urlsplit(target)
    env: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": software,
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(url.path).encode().decode("latin-1"),
        "QUERY_STRING": url.query.encode().decode("latin-1"),
        "REQUEST_URI": target.encode().decode("latin-1"),
        "RAW_URI": target.encode().decode("latin-1"),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    underscored = False
    for name, value in headers:
        if "_" in name:
            underscored = True
            continue  # as werkzeug: a header with an underscore could pose as another
        key = name.upper().replace("-", "_")
        value = value.replace("\r\n", "")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
            if key in env:
                value = f"{env[key]},{value}"
        env[key] = value
    env[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = _preserved(headers, env) if underscored else {}
    return env


def _preserved(headers: list[tuple[str, str]], env: dict[str, Any]) -> dict[str, str]:
    """What moto's request handler adds for the underscored headers werkzeug drops (S3 metadata)."""
    from moto.core.request import environ_key_for_header, should_preserve_original_header_name

    dashed = {environ_key_for_header(name) for name, _ in headers if "_" not in name}
    names: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in headers:
        key = environ_key_for_header(name)
        if should_preserve_original_header_name(name) and key not in dashed:
            names.setdefault(key, name)
            values.setdefault(key, []).append(value.replace("\r\n", ""))
    for key, key_values in values.items():
        env[key] = ",".join(key_values)
    return names


class CallersFirst:
    """Answers the requests of the environments a caller waits on before the others.

    All requests share the emulator's one interpreter. Under load, a request from an API
    function waited behind the queue, stream and workflow work earlier orders had set off:
    a capture's handler spent about 10 ms of CPU in 150-330 ms, waiting on its six requests.
    While a caller's request is under way, a background request waits to start, up to
    ``patience``: the background work is delayed, never stopped."""

    def __init__(self, patience: float = CALLER_PRECEDENCE_SECONDS):
        self.patience = patience
        self._turn = threading.Condition(threading.Lock())
        self._callers = 0
        self._lulls = 0  # times the callers' requests under way came to none

    @contextlib.contextmanager
    def caller(self) -> Iterator[None]:
        with self._turn:
            self._callers += 1
        try:
            yield
        finally:
            with self._turn:
                self._callers -= 1
                if not self._callers:
                    self._lulls += 1
                    self._turn.notify_all()

    def background(self) -> None:
        if not self._callers:  # read without the lock: a request that just began may run alongside
            return
        with self._turn:
            if self._callers:
                # Woken once: the first lull lets it go even if another caller's request has
                # begun since (woken again and again, every waiter would take the interpreter
                # at every lull, to wait again).
                lulls = self._lulls
                self._turn.wait_for(lambda: self._lulls != lulls, self.patience)


class WireServer:
    """Serves the emulator's WSGI application on a Unix socket, a thread per connection;
    connections to ``callers_path`` are the callers' (``CallersFirst``)."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        path: str,
        server_name: str,
        server_port: int,
        callers_path: str | None = None,
    ):
        self.app = app
        self.path = path
        self.callers_path = callers_path
        self.precedence = CallersFirst()
        self._listeners: list[socket.socket] = []
        self.server_name = server_name
        self.server_port = server_port
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        # What werkzeug's server calls itself, in the environ and in each answer's Server header.
        self.software = f"Werkzeug/{importlib.metadata.version('werkzeug')}"
        self.served = 0  # requests answered, for whoever checks that the environments use it
        self.served_callers = 0  # of those, on the callers' socket
        self._written_date: tuple[int, str] = (0, "")

    def environment(self) -> dict[str, str]:
        """The variables that tell the environments where to send their requests."""
        return {SOCKET_ENV: self.path, **({CALLER_SOCKET_ENV: self.callers_path} if self.callers_path else {})}

    def start(self) -> WireServer:
        for path, callers in ((self.path, False), (self.callers_path, True)):
            if path is None:
                continue
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(256)
            self._listeners.append(listener)
            threading.Thread(target=self._accept, args=(listener, callers), name="aws-wire", daemon=True).start()
        return self

    def stop(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for path in (self.path, self.callers_path):
            if path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def _accept(self, listener: socket.socket, callers: bool) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                self._connections.add(connection)
            threading.Thread(
                target=self._serve, args=(connection, callers), name="aws-wire-connection", daemon=True
            ).start()

    def _serve(self, connection: socket.socket, callers: bool) -> None:
        stream = connection.makefile("rb")
        try:
            while True:
                try:
                    request = _read_frame(stream)
                except (EOFError, OSError, ValueError):
                    return
                if callers:
                    with self.precedence.caller():
                        answer = self.answer(request)
                else:
                    self.precedence.background()
                    answer = self.answer(request)
                with self._lock:
                    self.served += 1
                    self.served_callers += callers
                _write_frame(connection, answer)
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(connection)
            stream.close()
            connection.close()

    def answer(self, request: Request) -> Answer:
        """The application's answer, as ``KeepAliveRequestHandler`` sends it over HTTP."""
        try:
            env = environ(request, self.server_name, self.server_port, self.software)
            code, reason, headers, payload = application_answer(self.app, env, request[0])
        except Exception:
            log.exception("the AWS endpoint failed on %s %s", request[0], request[1])
            code, reason, headers, payload = INTERNAL_ERROR
        # http.server's send_response puts these first.
        first = [("Server", f"{self.software} {_PYTHON}"), ("Date", self._date())]
        return code, reason, first + headers, payload

    def _date(self) -> str:
        """The Date header, written once a second: it names no finer time, and writing it for
        every answer was 1.6 % of the emulator's samples."""
        second = int(time.time())
        written = self._written_date
        if written[0] != second:
            written = self._written_date = (second, email.utils.formatdate(second, usegmt=True))
        return written[1]


def application_answer(app: Callable[..., Iterable[bytes]], env: dict[str, Any], method: str) -> Answer:
    """Run a WSGI application to the end of its answer: the status code, the reason, the
    headers with the body's length in place of the application's own framing, and the body
    (none for HEAD, 1xx, 204 and 304). What the application raises propagates."""
    answer: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer[:] = [status, headers]
        return chunks.append

    iterable = app(env, start_response)
    try:
        chunks.extend(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    status, headers = answer
    return _framed(method, status, headers, b"".join(chunks))


def _framed(method: str, status: str, headers: list[tuple[str, str]], payload: bytes) -> Answer:
    code, _, reason = status.partition(" ")
    bodyless = method == "HEAD" or code.startswith("1") or code in ("204", "304")
    kept = [
        (name, str(value))
        for name, value in headers
        if name.lower() not in ("connection", "transfer-encoding") and (bodyless or name.lower() != "content-length")
    ]
    if bodyless:
        return int(code), reason, kept, b""
    return int(code), reason, [*kept, ("Content-Length", str(len(payload)))], payload


# What the emulator answers when the application raises.
INTERNAL_ERROR = _framed(
    "POST", "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], b"Internal Server Error"
)


class _Body(io.BytesIO):
    """A response body as botocore reads urllib3's: whole (``stream``) or in parts (``read``)."""

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterable[bytes]:
        while chunk := self.read(amt):
            yield chunk


class _Connections(threading.local):
    """This thread's connection (a process's environments reach one emulator; tests, several)."""

    sock: socket.socket | None = None
    stream: io.BufferedReader | None = None
    pid: int = 0
    path: str = ""


_connections = _Connections()


def _connection(path: str, timeout: float | None) -> tuple[socket.socket, io.BufferedReader]:
    local = _connections
    if local.sock is None or local.pid != os.getpid() or local.path != path:
        _drop_connection()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        local.sock, local.stream, local.pid, local.path = sock, sock.makefile("rb"), os.getpid(), path
    if local.sock.gettimeout() != timeout:
        local.sock.settimeout(timeout)
    assert local.stream is not None
    return local.sock, local.stream


def _drop_connection() -> None:
    local = _connections
    if local.sock is not None and local.pid == os.getpid():
        with contextlib.suppress(OSError):
            local.sock.close()
    local.sock = local.stream = None


def _headers(request: Any, netloc: str) -> list[tuple[str, str]]:
    headers = [
        (str(name), value.decode("latin-1") if isinstance(value, bytes) else str(value))
        for name, value in request.headers.items()
    ]
    names = {name.lower() for name, _ in headers}
    # What http.client adds to every request it writes.
    if "host" not in names:
        headers.insert(0, ("Host", netloc))
    if "accept-encoding" not in names:
        headers.insert(1, ("Accept-Encoding", "identity"))
    return headers


def _body(request: Any) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return bytes(body.read())


def send(path: str, request: Any, timeout: float | None = None) -> Any:
    """``request`` (botocore's prepared request) over the socket at ``path``: its response,
    or the exception the HTTP session raises for the same failure, so the SDK retries alike."""
    import botocore.awsrequest
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

    url = urlsplit(request.url)
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    frame: Request = (request.method, target, _headers(request, url.netloc), _body(request))
    try:
        sock, stream = _connection(path, timeout)
    except OSError as exc:
        _drop_connection()
        raise EndpointConnectionError(endpoint_url=request.url, error=exc) from exc
    try:
        _write_frame(sock, frame)
        status, _reason, headers, payload = _read_frame(stream)
    except TimeoutError as exc:
        _drop_connection()  # the answer may still come: this connection is out of step
        raise ReadTimeoutError(endpoint_url=request.url, error=exc) from exc
    except (OSError, EOFError, ValueError) as exc:
        _drop_connection()
        raise ConnectionClosedError(error=exc, request=request, endpoint_url=request.url) from exc
    response = botocore.awsrequest.AWSResponse(request.url, status, headers, _Body(payload))
    if not request.stream_output:
        response.content  # noqa: B018 - read now, as the HTTP session does
    return response


def _read_timeout(session: Any, request: Any) -> float | None:
    """How long the HTTP session would wait for the answer: the request's own read timeout,
    else the client's (a number, or urllib3's ``Timeout`` the SDK makes of connect and read)."""
    timeout = session._get_request_timeout(request) or session._timeout
    return timeout if isinstance(timeout, int | float) else getattr(timeout, "read_timeout", None)


_NO_SIGNATURE = "0" * 64


def install_client(path: str, endpoint_url: str) -> None:
    """Send this process's requests to ``endpoint_url`` over the socket at ``path``.

    Every botocore client sends through ``URLLib3Session.send``. Requests to any other
    address, and requests whose body length is not known up front (chunked), keep going
    over HTTP.

    Requests to the emulator are not signed: they carry the headers SigV4 sets and an
    ``Authorization`` with the credential scope, which is all moto reads of it (the
    account from the access key, the region), and a signature of zeros it never checks.
    Signing was a third of a small request's CPU in the SDK (95 of 275 µs for a
    ``GetItem``), a tenth of the handlers' CPU per order."""
    import botocore.auth
    import botocore.httpsession
    from botocore.exceptions import NoCredentialsError

    endpoint = urlsplit(endpoint_url)
    session_class = botocore.httpsession.URLLib3Session
    over_http = getattr(session_class.send, "over_http", session_class.send)

    def to_emulator(request: Any) -> bool:
        url = urlsplit(request.url)
        return url.netloc == endpoint.netloc and url.scheme == endpoint.scheme

    def send_to_emulator(self: Any, request: Any) -> Any:
        if not to_emulator(request) or "Transfer-Encoding" in request.headers:
            return over_http(self, request)
        return send(path, request, _read_timeout(self, request))

    send_to_emulator.over_http = over_http  # type: ignore[attr-defined]
    session_class.send = send_to_emulator

    signer = botocore.auth.SigV4Auth
    signed = getattr(signer.add_auth, "signed", signer.add_auth)

    def add_scope(self: Any, request: Any) -> None:
        # Presigned URLs and S3's signer (subclasses) and other addresses are signed as ever.
        if type(self) is not signer or not to_emulator(request):
            signed(self, request)
            return None
        if self.credentials is None:
            raise NoCredentialsError()
        request.context["timestamp"] = botocore.auth.get_current_datetime().strftime(botocore.auth.SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.scope(request)}, SignedHeaders=host;x-amz-date,"
            f" Signature={_NO_SIGNATURE}"
        )
        return None

    add_scope.signed = signed  # type: ignore[attr-defined]
    signer.add_auth = add_scope
