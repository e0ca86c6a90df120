"""API Gateway (HTTP API, Lambda proxy integrations) emulated on one port.

Each request becomes the proxy event (payload format 1.0) the HTTP API sends; there is no
authorizer: the functions check the API key themselves (shared.api.authentication). A
request no route takes goes to the ``$default`` route's function. Routes and functions
come from the manifest.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra import manifest
from infra.local import runtime
from infra.local.environments import Throttled, TimedOut
from infra.local.static_files import serves, static_response

log = logging.getLogger(__name__)

# The cloud stack's stage (infra/cdk/api.py): it serves at the API's root.
STAGE = "$default"
DEFAULT_ROUTE = "$default"
API_ID = "local"
# API Gateway's integration timeout.
INTEGRATION_TIMEOUT_SECONDS = 29.0


class ApiError(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.headers = headers or {}


@dataclass(frozen=True)
class CompiledRoute:
    method: str
    resource: str
    spec: Any  # the manifest FunctionSpec
    authorized: bool
    pattern: re.Pattern[str]
    rank: tuple[int, ...]  # literal segments before parameters, as API Gateway matches


def compile_routes(routes: Any, functions: Any) -> list[CompiledRoute]:
    specs = {f.name: f for f in functions}
    compiled = []
    for r in routes:
        parts, rank = [], []
        for segment in r.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                parts.append(f"(?P<{segment[1:-2]}>.+)")
                rank.append(2)
            elif segment.startswith("{"):
                parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
                rank.append(1)
            else:
                parts.append(re.escape(segment))
                rank.append(0)
        pattern = re.compile("^/" + "/".join(parts) + "/?$")
        compiled.append(CompiledRoute(r.method, r.path, specs[r.function], r.authorized, pattern, tuple(rank)))
    return compiled


class Api:
    """Turns an HTTP request into handler calls; independent of the HTTP server."""

    def __init__(
        self,
        routes: Any = manifest.ROUTES,
        functions: Any = manifest.FUNCTIONS,
        default_function: str | None = manifest.DEFAULT_ROUTE_FUNCTION,
        region: str = "us-east-1",
        prefix: str = manifest.LOCAL_PREFIX,
    ):
        self.routes = compile_routes(routes, functions)
        specs = {f.name: f for f in functions}
        # The $default route: what no route takes (the cloud stack's DEFAULT_ROUTE_FUNCTION).
        self.default = (
            CompiledRoute("ANY", DEFAULT_ROUTE, specs[default_function], False, re.compile(".*"), ())
            if default_function
            else None
        )
        self.region = region
        self.prefix = prefix

    def match(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]]:
        """The most specific route of the request's method wins (a route key is method and
        path); a request no route takes goes to ``$default``, or is a 404 without one."""
        found = [(r, m) for r in self.routes if r.method == method and (m := r.pattern.match(path))]
        if found:
            route, m = min(found, key=lambda rm: rm[0].rank)
            return route, {k: unquote(v) for k, v in m.groupdict().items()}
        if self.default is None:
            raise ApiError(404, "Not found", f"No route for {method} {path}")
        return self.default, {}

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        request_id = str(uuid.uuid4())
        try:
            url = urlsplit(target)
            if serves(manifest.CONSOLE, url.path):
                status, out_headers, out_body = static_response(manifest.CONSOLE, method, url.path)
                return status, [*out_headers, ("x-request-id", request_id)], out_body
            route, params = self.match(method, url.path)
            event = self.proxy_event(route, params, url, method, headers, body, source_ip, request_id)
            status, out_headers, out_body = self.integrate(route, event)
        except ApiError as exc:
            status, out_body = exc.status, problem(exc.status, exc.title, exc.detail, request_id)
            out_headers = [("Content-Type", "application/problem+json"), *exc.headers.items()]
        except Exception:  # a bug here must still answer
            log.exception("local API gateway failed")
            status, out_body = 500, problem(500, "Internal error", "Local API gateway error", request_id)
            out_headers = [("Content-Type", "application/problem+json")]
        names = {name.lower() for name, _ in out_headers}
        if "x-request-id" not in names:
            out_headers.append(("x-request-id", request_id))
        out_headers.append(("x-amzn-RequestId", request_id))
        return status, out_headers, out_body

    def proxy_event(
        self,
        route: CompiledRoute,
        params: dict[str, str],
        url: Any,
        method: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        request_id: str,
    ) -> dict[str, Any]:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value
            multi.setdefault(name, []).append(value)
        query = parse_qsl(url.query, keep_blank_values=True)
        mq: dict[str, list[str]] = {}
        for k, v in query:
            mq.setdefault(k, []).append(v)
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = time.time()
        host = single.get("Host") or single.get("host") or "127.0.0.1"
        return {
            "resource": route.resource,
            "path": url.path,
            "httpMethod": method,
            "headers": single or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": dict(query) or None,
            "multiValueQueryStringParameters": mq or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": runtime.ACCOUNT_ID,
                "apiId": API_ID,
                "resourceId": route.resource,
                "resourcePath": route.resource,
                "routeKey": route.resource if route.resource == DEFAULT_ROUTE else f"{route.method} {route.resource}",
                "httpMethod": method,
                "path": url.path,
                "stage": STAGE,
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "extendedRequestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "domainName": host,
                "domainPrefix": host.split(".")[0],
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": single.get("User-Agent") or single.get("user-agent"),
                    "apiKey": None,
                    "accessKey": None,
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                },
            },
            "body": text if body else None,
            "isBase64Encoded": encoded if body else False,
        }

    def integrate(self, route: CompiledRoute, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        try:
            response = self.run(route.spec, event)
        except ApiError:
            raise
        except Exception as exc:
            kind = exc.payload.get("errorType") if isinstance(exc, FunctionError) else type(exc).__name__
            log.warning("%s failed: %s: %s", route.spec.name, kind, exc)
            raise ApiError(502, "Bad gateway", "Internal server error") from exc
        return proxy_response(route.spec.name, response)

    def run(self, spec: Any, event: dict[str, Any]) -> Any:
        """Invoke the function synchronously, as API Gateway's Lambda integration does."""
        name = self.prefix + spec.name
        context = runtime.LambdaContext(
            function_name=name,
            memory_limit_in_mb=spec.memory_mb,
            timeout_seconds=float(min(INTEGRATION_TIMEOUT_SECONDS, spec.timeout_seconds)),
            region=self.region,
        )
        function_env, limit = self._function_config(name, spec)
        try:
            ok, payload = runtime.invoke(
                spec.handler,
                event,
                context,
                function_env=function_env,
                limit=limit,
                max_seconds=INTEGRATION_TIMEOUT_SECONDS,
            )
        except Throttled as exc:
            raise ApiError(429, "Too many requests", f"{spec.name} is at its concurrency limit") from exc
        except TimedOut as exc:
            raise ApiError(504, "Upstream timeout", f"{spec.name} did not answer in time") from exc
        if not ok:
            raise FunctionError(json.loads(payload))
        return json.loads(payload)

    def _function_config(self, name: str, spec: Any) -> tuple[dict[str, str], int | None]:
        """The provisioned function's environment variables and reserved concurrency."""
        try:
            from moto.awslambda.models import lambda_backends

            fn = lambda_backends[runtime.ACCOUNT_ID][self.region].get_function(name)
        except Exception:  # not provisioned (an API with test routes only)
            return {}, getattr(spec, "reserved_concurrency", None)
        limit = getattr(fn, "reserved_concurrency", None)
        return dict(fn.environment_vars or {}), int(limit) if limit not in (None, "") else None

    def close(self) -> None:
        pass


class FunctionError(Exception):
    """The function failed; ``payload`` is the runtime's error payload."""

    def __init__(self, payload: dict[str, Any]):
        super().__init__(payload.get("errorMessage", ""))
        self.payload = payload


def proxy_response(function: str, response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy response as API Gateway reads it; anything else is a 502."""
    try:
        status = int(response["statusCode"])
        headers = [(k, str(v)) for k, v in (response.get("headers") or {}).items()]
        single = {k.lower() for k, _ in headers}
        for k, values in (response.get("multiValueHeaders") or {}).items():
            if k.lower() not in single:
                headers.extend((k, str(v)) for v in values)
        body = response.get("body") or ""
        raw = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("%s returned a malformed proxy response: %r", function, response)
        raise ApiError(502, "Bad gateway", "Malformed Lambda proxy response") from exc
    return status, headers, raw


def problem(status: int, title: str, detail: str, request_id: str = "") -> bytes:
    """The emulator's own errors (no route, a failed or slow function), as problems."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if request_id:
        body["request_id"] = request_id
    return json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: with Nagle's algorithm the body would wait for the
    # client's delayed acknowledgement (40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            bad = problem(400, "Malformed request", "Unreadable body")
            self._send(400, [("Content-Type", "application/problem+json")], bad)
            return
        status, headers, out = self.server.api.handle(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        self._send(status, headers, out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Clients connect all at once (5, the default, resets the rest of a burst of 30).
    request_queue_size = 256
    api: Api


class HttpApi:
    """The HTTP server around ``Api``; port 0 picks a free port."""

    def __init__(self, api: Api | None = None, host: str = "127.0.0.1", port: int = 3000):
        self.api = api or Api()
        self.host = host
        self.server = _Server((host, port), _Handler)
        self.server.api = self.api
        self.thread = threading.Thread(target=self.server.serve_forever, name="http-api", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> HttpApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.api.close()
