"""The emulator serves the AWS requests of functions a caller waits on before the others'.

In the cloud an API function's DynamoDB request does not queue behind the queue, stream
and workflow work that earlier orders started: every service scales on its own. Here one
process emulates them all on one core, and a capture's few requests each waited their
turn behind dozens of background ones (a capture took 300 ms of wall time for 20 ms of
CPU with 32 clients; docs/decisions.md). So a request from a function whose environments
serve HTTP callers (``waits_on``) runs as soon as it arrives, and a request from any other
function waits, before it starts, while such requests are in flight: never longer than
``HOLD_SECONDS``, so background work slows under a busy API but never stops. Requests of
no function (tests, the benchmarks' clients, the stack's own) are served as they come.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from infra.local.requests_meter import caller_of

HOLD_SECONDS = 0.2


class RequestPriority:
    """Requests of functions a caller waits on in flight, and the turn the others wait for."""

    def __init__(self, waits_on: Callable[[str], bool], hold_seconds: float = HOLD_SECONDS):
        self.waits_on = waits_on
        self.hold_seconds = hold_seconds
        self._changed = threading.Condition()
        self._foreground = 0  # requests of functions a caller waits on, in flight
        self.held_seconds = 0.0  # how long background requests waited, in all

    def foreground_begins(self) -> None:
        with self._changed:
            self._foreground += 1

    def foreground_ends(self) -> None:
        with self._changed:
            self._foreground -= 1
            if not self._foreground:
                self._changed.notify_all()

    def background_waits(self) -> None:
        """Wait while foreground requests are in flight, at most ``hold_seconds``."""
        with self._changed:
            if not self._foreground:
                return
            started = time.monotonic()
            deadline = started + self.hold_seconds
            while self._foreground and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)
            self.held_seconds += time.monotonic() - started


class Middleware:
    """Wraps the AWS endpoint's WSGI application; the answer is produced inside the turn."""

    def __init__(self, app: Callable[..., Iterable[bytes]], priority: RequestPriority):
        self.app = app
        self.priority = priority

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        caller = caller_of(environ)
        if caller is None:
            return self.app(environ, start_response)
        if not self.priority.waits_on(caller):
            self.priority.background_waits()
            return self.app(environ, start_response)
        self.priority.foreground_begins()
        try:
            return _produced(self.app(environ, start_response))
        finally:
            self.priority.foreground_ends()


def _produced(answer: Iterable[bytes]) -> list[bytes]:
    try:
        return list(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
