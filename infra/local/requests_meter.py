"""Every AWS request the emulator serves, counted by service, operation and caller.

Handlers run in worker processes, so a hook on their clients would see nothing from the
emulator's process: the count is taken where every request arrives, in the moto
server. The caller is the function's name, which the runtime puts in each SDK request's
User-Agent (``AWS_SDK_UA_APP_ID``); requests from outside any function (tests, the
Step Functions interpreter) are counted under ``-``.

``GET /_local/requests`` on the AWS endpoint answers the counts as JSON, ``DELETE``
clears them (a local-only path: no AWS service has it). In the stack's own process,
``listen`` gives each request's parameters and answer (benchmarks price them);
``listen_raw`` gives their bodies unparsed, for a listener that parses them later.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

PATH = "/_local/requests"
OUTSIDE = "-"

# X-Amz-Target prefixes of the JSON protocol services the stack uses.
_TARGETS = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
    "AWSStepFunctions": "stepfunctions",
    "secretsmanager": "secretsmanager",
}
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/[^/]+/invocations")
_APP_ID = re.compile(r"\bapp/([^\s]+)")

# (service, operation, caller, request parameters, response body)
Listener = Callable[[str, str, str, dict[str, Any], dict[str, Any]], None]
# The same as served, unparsed: for a listener that parses what it needs when it needs it
# (parsing every request and answer was most of what listening cost the emulator's process).
RawListener = Callable[[str, str, str, bytes, bytes], None]

_lock = threading.Lock()
counts: Counter[tuple[str, str, str]] = Counter()
_listeners: list[Listener] = []
_raw_listeners: list[RawListener] = []
# CPU seconds spent handing requests to listeners (parsing them, and the listeners' own
# work): measuring, not emulating; benchmarks keep it apart.
listener_cpu = [0.0]


def _join(listeners: list[Any], listener: Any) -> None:
    with _lock:
        listeners.append(listener)


def _leave(listeners: list[Any], listener: Any) -> None:
    with _lock:
        if listener in listeners:
            listeners.remove(listener)


def listen(listener: Listener) -> None:
    _join(_listeners, listener)


def unlisten(listener: Listener) -> None:
    _leave(_listeners, listener)


def listen_raw(listener: RawListener) -> None:
    _join(_raw_listeners, listener)


def unlisten_raw(listener: RawListener) -> None:
    _leave(_raw_listeners, listener)


def count(service: str, operation: str, caller: str) -> None:
    """A request served in the emulator's process without HTTP (the interpreter's Lambda tasks)."""
    with _lock:
        counts[(service, operation, caller)] += 1


def reset() -> None:
    with _lock:
        counts.clear()


def snapshot() -> dict[str, Any]:
    """``{"by_operation": {"dynamodb.PutItem": n}, "by_caller": {"CaptureApi dynamodb.PutItem": n}}``."""
    with _lock:
        items = list(counts.items())
    by_operation: Counter[str] = Counter()
    by_caller: Counter[str] = Counter()
    for (service, operation, caller), n in items:
        by_operation[f"{service}.{operation}"] += n
        by_caller[f"{caller} {service}.{operation}"] += n
    return {"by_operation": dict(sorted(by_operation.items())), "by_caller": dict(sorted(by_caller.items()))}


def _identify(environ: dict[str, Any]) -> tuple[str, str] | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        prefix, _, operation = target.partition(".")
        return _TARGETS.get(prefix, prefix.lower()), operation
    if environ.get("REQUEST_METHOD") == "POST" and _LAMBDA_INVOKE.match(environ.get("PATH_INFO", "")):
        return "lambda", "Invoke"
    return None


class Middleware:
    """Wraps the moto server's WSGI application."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH:
            return self._serve_counts(environ, start_response)
        found = _identify(environ)
        if found is None:
            return self.app(environ, start_response)
        service, operation = found
        agent = _APP_ID.search(environ.get("HTTP_USER_AGENT", ""))
        caller = agent.group(1) if agent else OUTSIDE
        with _lock:
            counts[(service, operation, caller)] += 1
            listeners, raw = list(_listeners), list(_raw_listeners)
        if not listeners and not raw:
            return self.app(environ, start_response)
        return self._observed(environ, start_response, service, operation, caller, listeners, raw)

    def _observed(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        service: str,
        operation: str,
        caller: str,
        listeners: list[Listener],
        raw: list[RawListener],
    ) -> Iterator[bytes]:
        import io
        import time

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        chunks: list[bytes] = []
        for chunk in self.app(environ, start_response):
            chunks.append(chunk)
            yield chunk
        started = time.thread_time()
        answered = b"".join(chunks)
        for raw_listener in raw:
            raw_listener(service, operation, caller, body, answered)
        if listeners:
            params, answer = parsed(body), parsed(answered)
            for listener in listeners:
                listener(service, operation, caller, params, answer)
        with _lock:
            listener_cpu[0] += time.thread_time() - started

    def _serve_counts(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "DELETE":
            reset()
        body = json.dumps(snapshot()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def parsed(data: bytes) -> dict[str, Any]:
    """A request's or an answer's JSON body ({} where there is none)."""
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
