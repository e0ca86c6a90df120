"""Where the emulator's CPU goes in a run: each thread's CPU by the part of the stack it was in.

The lifecycle benchmark's emulation is the emulator's process CPU less the bench's own
work. ``EmulationSplit`` takes it apart by the entry points the emulator's work goes
through, timing each call's thread CPU:

- the functions' AWS requests, by service (moto answering them, the wire's framing around
  each answer included), and the wire's reading and writing of their frames;
- the HTTP API: a caller's request through its function's answer (API Gateway's part);
- stream records delivered to their consumers, and queue messages polled for theirs;
- the state machines' executions, the Lambda tasks they invoke included (counted when an
  execution ends: a run's are those that ended in it);
- what is left: the stream records' dispatch to their mappings, states with a timeout of
  their own (moto runs each in a thread of its own), the environments' pools, timers, the
  HTTP servers' threads.

Work inside another entry point on the same thread counts to the outer one (a stream
consumer's invocation counts to the delivery). The bench meter runs inside the requests
and writes it meters: its CPU is taken out of those, as it is out of the total. The timing
itself (two thread-clock readings a call, about 2 µs) adds about 1 ms an order to the parts.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.stepfunctions.parser.asl.component.program.program import Program

from infra.local import http_api, moto_patches, wire
from tests.benchmarks import aws_meter

# A request's X-Amz-Target prefix -> what it is counted as.
_SERVICES = {
    "DynamoDB_20120810": "dynamodb",
    "AWSStepFunctions": "stepfunctions",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
}
PARTS = (
    "dynamodb",
    "stepfunctions",
    "sqs",
    "events",
    "other_requests",
    "wire_frames",
    "http_api",
    "stream_delivery",
    "queue_polling",
    "state_machines",
)


def _service(request: wire.Request) -> str:
    for name, value in request[2]:
        if name.lower() == "x-amz-target":
            return _SERVICES.get(value.partition(".")[0], "other_requests")
    return "other_requests"


class EmulationSplit:
    """CPU seconds by part (``PARTS``) while attached; one at a time."""

    _active: EmulationSplit | None = None

    def __init__(self) -> None:
        self._thread = threading.local()
        # Each thread adds to counters of its own (no lock at every call); read together.
        self._threads: list[tuple[Counter[str], Counter[str]]] = []
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []

    @contextmanager
    def attached(self) -> Iterator[EmulationSplit]:
        assert EmulationSplit._active is None, "one split at a time"
        EmulationSplit._active = self
        try:
            self._wrap(wire.WireServer, "answer", lambda args: _service(args[1]))
            self._wrap(wire, "_read_frame", lambda _: "wire_frames")
            self._wrap(wire, "_write_frame", lambda _: "wire_frames")
            self._wrap(http_api.Api, "handle", lambda _: "http_api")
            self._wrap(moto_patches._StreamBatch, "deliver", lambda _: "stream_delivery")
            self._wrap(moto_patches, "_poll_once", lambda _: "queue_polling")
            self._wrap(Program, "eval", lambda _: "state_machines")
            self._wrap(aws_meter.AwsMeter, "_observe", None)
            self._wrap(aws_meter.AwsMeter, "_item_written", None)
            yield self
        finally:
            while self._undo:
                self._undo.pop()()
            EmulationSplit._active = None

    @property
    def seconds(self) -> Counter[str]:
        return self._sum(0)

    @property
    def calls(self) -> Counter[str]:
        return self._sum(1)

    def _sum(self, which: int) -> Counter[str]:
        total: Counter[str] = Counter()
        with self._lock:
            for counters in self._threads:
                total.update(dict(counters[which]))
        return total

    def _counters(self) -> tuple[Counter[str], Counter[str]]:
        counters: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
        with self._lock:
            self._threads.append(counters)
        self._thread.counters = counters
        return counters

    def _wrap(self, owner: Any, name: str, part_of: Callable[[tuple[Any, ...]], str] | None) -> None:
        """Time ``owner.name`` as the part ``part_of`` names; None: the bench meter, whose
        CPU is taken out of the part it ran in."""
        original = getattr(owner, name)
        local, counters_of, clock = self._thread, self._counters, time.thread_time

        if part_of is None:

            @functools.wraps(original)
            def metered(*args: Any, **kwargs: Any) -> Any:
                started = clock()
                try:
                    return original(*args, **kwargs)
                finally:
                    local.metered = getattr(local, "metered", 0.0) + clock() - started

            setattr(owner, name, metered)
        else:

            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                if getattr(local, "part", None) is not None:
                    return original(*args, **kwargs)  # inside another part: counted there
                started, metered_before = clock(), getattr(local, "metered", 0.0)
                local.part = part = part_of(args)
                try:
                    return original(*args, **kwargs)
                finally:
                    local.part = None
                    spent = clock() - started - (getattr(local, "metered", 0.0) - metered_before)
                    seconds, calls = getattr(local, "counters", None) or counters_of()
                    seconds[part] += spent
                    calls[part] += 1

            setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))
