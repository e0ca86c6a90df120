"""Lambda execution environments as worker processes.

Each function has a pool of environments. An environment is a process that serves one
invocation at a time with its own module state, as Lambda's do; the pool grows with
concurrent demand up to the function's concurrency limit, and an invocation beyond it
is throttled (synchronous callers) or waits for a free environment (event source
pollers, which never exceed a function's concurrency in the cloud either).

Environments are forked from one zygote process (multiprocessing's forkserver) that
has already imported boto3, Powertools, pydantic and every handler module, so a new
environment costs a fork instead of a second of imports on a busy core. Module-level
state created at import is copied into each environment and diverges from there, as
the project's handlers create no client or connection at import time.
"""

from __future__ import annotations

import atexit
import json
import logging
import multiprocessing
import multiprocessing.spawn
import os
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from infra.local import wire

log = logging.getLogger(__name__)

# Lambda's default account concurrency is 1,000; one machine carries far fewer processes.
DEFAULT_ACCOUNT_LIMIT = int(os.environ.get("OMS_LOCAL_CONCURRENCY", "96"))
# Lambda's limit for a function's init phase (imports), stretched for a busy machine.
INIT_SECONDS = 30.0
# Environments idle this long are shut down (Lambda reclaims idle ones after minutes).
IDLE_SECONDS = 300.0
# In the cloud each environment has a CPU share of its own; here all share two cores. The
# environments of functions that no caller waits on (queue, stream and workflow work) run
# at the lowest priority, so an API request is not slowed by the work earlier orders
# started: that work takes what the API leaves (docs/decisions.md).
BACKGROUND_NICENESS = 19
# For the same reason a function no caller waits on queues its invocations once it has this
# many environments, instead of starting more: past a few per core they add no throughput,
# and each new one spends its first invocation's CPU on clients, settings and policies (a
# burst of captures started 52 AdvanceOrder environments for 68 invocations, 116 ms of CPU
# each against 47 ms with 8; docs/decisions.md). Its reserved concurrency still throttles.
BACKGROUND_ENVIRONMENTS = int(os.environ.get("OMS_LOCAL_BACKGROUND_ENVIRONMENTS", str(4 * (os.cpu_count() or 2))))
# A function a caller waits on grows past this many environments only when none comes free
# within WARM_WAIT_SECONDS: a new environment's first invocation costs several warm ones in
# CPU (75 ms against 15 for a capture), and 32 of them started at once on two cores made
# each caller wait seconds for its answer (docs/decisions.md). Its reserved concurrency
# still throttles, and a caller never waits long for a busy machine: it gets a new
# environment, as Lambda would give it.
CALLER_ENVIRONMENTS = int(os.environ.get("OMS_LOCAL_CALLER_ENVIRONMENTS", str(4 * (os.cpu_count() or 2))))
WARM_WAIT_SECONDS = 2.0

_PRELOAD = [
    "boto3",
    "botocore.session",
    "aws_lambda_powertools",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.idempotency",
    "pydantic",
    "infra.local.warm",
]


_ENV_PROCESS = "lambda-environment"
_original_preparation_data = multiprocessing.spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    """An environment does not import the parent's main module (the emulator, a test
    runner or a script): that would cost seconds per environment and is not its code."""
    data: dict[str, Any] = _original_preparation_data(name)
    if name == _ENV_PROCESS:
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
    return data


multiprocessing.spawn.get_preparation_data = _preparation_data


class Throttled(Exception):
    """The function's environments are all busy and it may not have more (429)."""

    error_type = "TooManyRequestsException"


class TimedOut(Exception):
    """The invocation ran past the function's timeout; its environment was shut down."""

    error_type = "Sandbox.Timedout"


@dataclass
class Outcome:
    ok: bool
    payload: str  # the result (ok) or the runtime's error payload, JSON
    cpu_seconds: float
    wall_seconds: float


def _noop() -> None:
    """A process that does nothing: starting one waits for the zygote to have imported everything."""


def _serve(conn: Connection, env: dict[str, str], niceness: int = 0) -> None:
    """The environment's main loop (runs in the worker process)."""
    if niceness:
        os.nice(niceness)
    os.environ.clear()
    os.environ.update(env)
    from infra.local import runtime

    if env.get(wire.SOCKET_ENV) and env.get("AWS_ENDPOINT_URL"):
        wire.install_client(env[wire.SOCKET_ENV], env["AWS_ENDPOINT_URL"])

    handler_cache: dict[str, Any] = {}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        handler, event, context_fields = request
        context = runtime.LambdaContext(**context_fields)
        function: Any = None
        try:
            # The init phase (importing the handler) has its own limit, as in Lambda.
            function = handler_cache.get(handler) or runtime.resolve(handler)
            handler_cache[handler] = function
        except Exception as exc:  # the runtime reports an import failure as the invocation's error
            init_error = json.dumps(runtime.error_payload(exc, context.aws_request_id))
        conn.send(("started",))
        started, cpu = time.perf_counter(), time.process_time()
        if function is None:
            conn.send((False, init_error, time.process_time() - cpu, time.perf_counter() - started))
            continue
        try:
            result = function(event, context)
            try:
                reply = (True, json.dumps(result))
            except (TypeError, ValueError) as exc:
                error = {
                    "errorMessage": f"Unable to marshal response: {exc}",
                    "errorType": "Runtime.MarshalError",
                    "requestId": context.aws_request_id,
                    "stackTrace": [],
                }
                reply = (False, json.dumps(error))
        except Exception as exc:  # the runtime turns any exception into an error payload
            reply = (False, json.dumps(runtime.error_payload(exc, context.aws_request_id)))
        finally:
            runtime.drop_disabled_metrics()
        conn.send((*reply, time.process_time() - cpu, time.perf_counter() - started))


@dataclass
class _Environment:
    process: Any
    conn: Connection
    last_used: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def close(self, kill: bool = False) -> None:
        try:
            if kill:
                self.process.kill()
            else:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.conn.close()
        self.process.join(timeout=5 if not kill else 1)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=1)


class _Waiter:
    """An invocation waiting for one of its function's environments; released ones are handed
    to the longest waiting first."""

    __slots__ = ("handed", "on_account", "woken")

    def __init__(self, lock: threading.RLock):
        self.woken = threading.Condition(lock)
        self.handed: _Environment | None = None
        # Waiting for room under the account's limit: another function's idle environment
        # or one gone lets it go on. Otherwise only its own function's environments can.
        self.on_account = False


class Pool:
    """The environments of one function (one handler and environment variables)."""

    def __init__(self, manager: Environments, key: str, env: dict[str, str], limit: int, background: bool = False):
        self.manager = manager
        self.key = key
        self.env = env
        self.limit = limit
        self.background = background
        self.niceness = BACKGROUND_NICENESS if background else 0
        if not background and env.get(wire.CALLER_SOCKET_ENV):
            # A caller waits on this function: its AWS requests are answered first (wire.CallersFirst).
            self.env = {**env, wire.SOCKET_ENV: env[wire.CALLER_SOCKET_ENV]}
        self.idle: list[_Environment] = []
        # First come, first served: an environment that comes free goes to the invocation that
        # has waited longest, never to one that arrived since. Woken all at once to race for
        # it, some waited four times the median (capture p99 1.5 s against p50 0.16 s at 32
        # clients), and a caller's wait may end in a cold start.
        self.waiting: deque[_Waiter] = deque()
        self.size = 0  # idle + busy + being created

    def acquire(self, wait: bool) -> _Environment:
        patience: float | None = None  # when a caller stops waiting for a warm environment
        waiter: _Waiter | None = None
        with self.manager.lock:
            try:
                while True:
                    if waiter is not None and waiter.handed is not None:
                        found, waiter.handed = waiter.handed, None
                        if found.alive():
                            return found
                        self._forget_one()
                        self.waiting.appendleft(waiter)  # keeps its turn
                    while self.idle and (waiter is None or self.waiting[0] is waiter):
                        found = self.idle.pop()  # the most recently used: the warmest
                        if found.alive():
                            return found
                        self._forget_one()
                    may_grow = self.size < self.limit
                    timeout, warming = 1.0, False  # warming: a caller waits for a warm environment
                    if may_grow and not self.background and self.size >= self.manager.caller_environments:
                        patience = patience or time.monotonic() + self.manager.warm_wait_seconds
                        if (remaining := patience - time.monotonic()) > 0:
                            may_grow, timeout, warming = False, remaining, True
                    queues = may_grow and self.background and self.size >= self.manager.background_environments
                    if may_grow and not queues and self.manager.total >= self.manager.account_limit:
                        # Idle environments of other functions give way, as Lambda reclaims them.
                        spare = self.manager.evict_idle(self)
                        if spare is not None:
                            threading.Thread(target=spare.close, daemon=True).start()
                    if may_grow and not queues and self.manager.total < self.manager.account_limit:
                        self.size += 1
                        self.manager.total += 1
                        break
                    on_account = may_grow and not queues
                    if not wait and not queues and not warming:
                        raise Throttled(f"Rate Exceeded: {self.key} is at its concurrency limit of {self.limit}")
                    if waiter is None:
                        waiter = _Waiter(self.manager.lock)
                        self.waiting.append(waiter)
                    waiter.on_account = on_account
                    waiter.woken.wait(timeout=timeout)
            finally:
                if waiter is not None:
                    self._stop_waiting(waiter)
        try:
            return self.manager.spawn(self.env, self.niceness)
        except BaseException:
            with self.manager.lock:
                self._forget_one()
            raise

    def _stop_waiting(self, waiter: _Waiter) -> None:
        """The waiter leaves the queue (lock held); an environment handed to it too late goes on."""
        if waiter in self.waiting:
            self.waiting.remove(waiter)
        if waiter.handed is not None:
            found, waiter.handed = waiter.handed, None
            self._hand_over(found)

    def _forget_one(self) -> None:
        """An environment is gone (lock held): room for this function's waiters to grow, and
        for any function's waiting on the account's limit."""
        self.size -= 1
        self.manager.total -= 1
        self.wake()
        self.manager.wake_account_waiters()

    def _hand_over(self, environment: _Environment) -> None:
        """To the longest waiting invocation, or back among the idle (lock held)."""
        if self.waiting:
            waiter = self.waiting.popleft()
            waiter.handed = environment
            waiter.woken.notify()
            return
        self.idle.append(environment)
        # An idle environment is one another function at the account limit may take. Waking
        # every waiting invocation of every function instead was 120 wake-ups an order at 8
        # clients, each only to wait again.
        self.manager.wake_account_waiters()

    def release(self, environment: _Environment | None) -> None:
        """``environment``: the one that has just answered, or None when it is gone. Asking an
        environment that has just answered whether it is alive polled its process (a select,
        the interpreter handed to another thread) at every invocation."""
        with self.manager.lock:
            if environment is not None:
                environment.last_used = time.monotonic()
                self._hand_over(environment)
            else:
                self._forget_one()

    def wake(self) -> None:
        """Every waiter looks again (lock held): room may have been made."""
        for waiter in self.waiting:
            waiter.woken.notify()

    def reap(self, older_than: float) -> list[_Environment]:
        stale = [e for e in self.idle if e.last_used < older_than]
        self.idle = [e for e in self.idle if e.last_used >= older_than]
        self.size -= len(stale)
        self.manager.total -= len(stale)
        return stale


class Environments:
    """Every function's pool; one per local stack."""

    def __init__(
        self,
        account_limit: int = DEFAULT_ACCOUNT_LIMIT,
        preload: list[str] | None = None,
        background_environments: int = BACKGROUND_ENVIRONMENTS,
        caller_environments: int = CALLER_ENVIRONMENTS,
        warm_wait_seconds: float = WARM_WAIT_SECONDS,
    ):
        self.account_limit = account_limit
        self.background_environments = background_environments
        self.caller_environments = caller_environments
        self.warm_wait_seconds = warm_wait_seconds
        self.lock = threading.RLock()
        self.pools: dict[str, Pool] = {}
        self.total = 0
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload([*_PRELOAD, *(preload or [])])
        self.invocations: Counter[str] = Counter()
        self.cpu_seconds: defaultdict[str, float] = defaultdict(float)
        self.busy_seconds: defaultdict[str, float] = defaultdict(float)
        self.throttled: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self._closed = False
        threading.Thread(target=self._reaper, name="environment-reaper", daemon=True).start()
        atexit.register(self.close)

    def start_zygote(self) -> None:
        """Start the process environments are forked from and wait until it has imported the
        handlers: otherwise the first invocation waits for that (seconds, more on a busy
        machine) and a caller with a short timeout gives up."""
        process = self.context.Process(target=_noop, daemon=True, name=_ENV_PROCESS)
        process.start()
        process.join()

    def evict_idle(self, wanting: Pool) -> _Environment | None:
        """Take the least recently used idle environment of another function (lock held)."""
        candidates = [(e.last_used, p, e) for p in self.pools.values() if p is not wanting for e in p.idle]
        if not candidates:
            return None
        _, pool, environment = min(candidates, key=lambda c: c[0])
        pool.idle.remove(environment)
        pool.size -= 1
        self.total -= 1
        return environment

    def wake_account_waiters(self) -> None:
        """Invocations waiting for room under the account's limit look again (lock held)."""
        for pool in self.pools.values():
            for waiter in pool.waiting:
                if waiter.on_account:
                    waiter.woken.notify()

    def spawn(self, env: dict[str, str], niceness: int = 0) -> _Environment:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_serve, args=(child, env, niceness), daemon=True, name=_ENV_PROCESS)
        process.start()
        child.close()
        return _Environment(process, parent)

    def pool(self, key: str, env: dict[str, str], limit: int | None, background: bool = False) -> Pool:
        """The function's pool; its first invocation says whether a caller waits on it (``background``)."""
        with self.lock:
            found = self.pools.get(key)
            if found is None:
                limit = min(limit or self.account_limit, self.account_limit)
                found = self.pools[key] = Pool(self, key, env, limit, background)
            return found

    def invoke(
        self,
        key: str,
        handler: str,
        event: Any,
        context_fields: dict[str, Any],
        env: dict[str, str],
        *,
        limit: int | None = None,
        wait: bool = False,
        background: bool = False,
        timeout: float = 10.0,
        init_timeout: float = INIT_SECONDS,
    ) -> Outcome:
        pool = self.pool(key, env, limit, background)
        try:
            environment = pool.acquire(wait)
        except Throttled:
            with self.lock:
                self.throttled[handler] += 1
            raise
        with self.lock:
            self.invocations[handler] += 1
            busy = pool.size - len(pool.idle)
            self.peak[handler] = max(self.peak[handler], busy)
        keep: _Environment | None = environment
        started = time.perf_counter()
        try:
            # The event crosses as the value it is (the pipe pickles it): every event the stack
            # makes is parsed from JSON or built of strings, numbers, booleans, lists and maps,
            # so the function gets what parsing its JSON would give. Writing it as JSON text
            # here (a stream batch holds every record's old and new item) and parsing it there
            # cost both sides CPU for nothing. The answer crosses as JSON: Lambda's runtime
            # refuses an answer that is not. (A binary attribute in a stream image would
            # arrive as bytes, where Lambda gives base64 text; the OMS stores none.)
            environment.conn.send((handler, event, context_fields))
            if not environment.conn.poll(init_timeout) or environment.conn.recv() != ("started",):
                environment.close(kill=True)
                keep = None
                raise TimedOut(f"Init timed out after {init_timeout:.2f} seconds")
            if not environment.conn.poll(timeout):
                environment.close(kill=True)
                keep = None
                raise TimedOut(f"Task timed out after {timeout:.2f} seconds")
            ok, payload, cpu, wall = environment.conn.recv()
        except (EOFError, OSError) as exc:  # the process died (e.g. killed, out of memory)
            environment.close(kill=True)
            keep = None
            error = {"errorType": "Runtime.ExitError", "errorMessage": f"the environment exited: {exc}"}
            return Outcome(False, json.dumps(error), 0.0, time.perf_counter() - started)
        finally:
            pool.release(keep)
        with self.lock:
            self.cpu_seconds[handler] += cpu
            self.busy_seconds[handler] += wall
        return Outcome(bool(ok), payload, cpu, wall)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "invocations": dict(self.invocations),
                "cpu_seconds": dict(self.cpu_seconds),
                "busy_seconds": dict(self.busy_seconds),
                "throttled": dict(self.throttled),
                "peak_concurrency": dict(self.peak),
                "environments": {p.key: p.size for p in self.pools.values()},
            }

    def _reaper(self) -> None:
        while not self._closed:
            time.sleep(IDLE_SECONDS / 4)
            with self.lock:
                stale = [e for p in self.pools.values() for e in p.reap(time.monotonic() - IDLE_SECONDS)]
            for environment in stale:
                environment.close()

    def close(self) -> None:
        with self.lock:
            self._closed = True
            environments = [e for p in self.pools.values() for e in p.idle]
            self.pools.clear()
            self.total = 0
        for environment in environments:
            environment.close()
