"""Run a Lambda handler in this process, the way the Python Lambda runtime would.

Shared by the moto adapter (Step Functions tasks, event source mappings, ``invoke``) and
the HTTP API emulator, so both see the same context object and the same error payloads.
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.environments import Environments

ACCOUNT_ID = "123456789012"
Handler = Callable[[Any, Any], Any]

_HERE = str(Path(__file__).resolve().parent)
_handlers: dict[str, Handler] = {}
_overrides: dict[str, Handler] = {}
_lock = threading.Lock()


class HandlerLoadError(Exception):
    """The handler string does not name an importable callable (Runtime.* errors)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


@dataclass
class LambdaContext:
    """The attributes of the runtime's context object that handlers and Powertools read."""

    function_name: str
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 10.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    region: str = "us-east-1"
    _started: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"
        if not self.log_stream_name:
            day = time.strftime("%Y/%m/%d", time.gmtime())
            self.log_stream_name = f"{day}/[{self.function_version}]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def resolve(handler: str) -> Handler:
    """Import ``package.module.attribute`` once and cache the callable."""
    if handler in _overrides:
        return _overrides[handler]
    cached = _handlers.get(handler)
    if cached is not None:
        return cached
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise HandlerLoadError("Runtime.MalformedHandlerName", f"Bad handler '{handler}'")
    with _lock:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # the runtime reports any import failure this way
            raise HandlerLoadError(
                "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
            ) from exc
        func = getattr(module, attribute, None)
        if not callable(func):
            raise HandlerLoadError(
                "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
            )
        _handlers[handler] = func
        return func


def override(handler: str, func: Handler | None) -> None:
    """Serve ``handler`` with ``func`` instead of importing it (tests); None removes it."""
    if func is None:
        _overrides.pop(handler, None)
    else:
        _overrides[handler] = func


def error_payload(exc: BaseException, request_id: str | None = None) -> dict[str, Any]:
    """The payload the Python Lambda runtime returns for an exception."""
    error_type = exc.error_type if isinstance(exc, HandlerLoadError) else type(exc).__name__
    payload: dict[str, Any] = {
        "errorMessage": str(exc),
        "errorType": error_type,
        "stackTrace": traceback.format_list(
            [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_HERE)]
        ),
    }
    if request_id:
        payload["requestId"] = request_id
    return payload


# A Lambda execution environment serves one invocation at a time, and handlers rely on
# it: module-level state such as the API resolver's current event, the logger's keys and
# warm caches belongs to the one invocation running. The local stack runs functions in
# worker-process environments (``environments``); a handler replaced in this process
# (tests) or called with no stack running gets one environment per handler here.
_local_environments: dict[str, threading.RLock] = {}
_environments_guard = threading.Lock()
_pools: Environments | None = None
# The environment variables every function sees locally (endpoint, credentials, ...);
# each function adds its own.
_base_env: dict[str, str] = {}
# Timeouts are stretched by this factor in the worker environments: a development
# machine running the emulator, every function and a test runner on two cores is
# slower than Lambda, and a spurious timeout there is noise, not a finding.
_timeout_scale = 1.0


def _environment(handler: str) -> threading.RLock:
    with _environments_guard:
        return _local_environments.setdefault(handler, threading.RLock())


def use_environments(
    pools: Environments | None, base_env: dict[str, str] | None = None, timeout_scale: float = 1.0
) -> None:
    """Run invocations in ``pools`` from now on (None: in this process)."""
    global _pools, _base_env, _timeout_scale
    _pools = pools
    _base_env = dict(base_env or {})
    _timeout_scale = timeout_scale


def environments() -> Environments | None:
    return _pools


# Invocations and seconds spent per handler since start: what Lambda would bill
# (benchmarks read them; time waiting for the function's environment is not counted).
invocations: Counter[str] = Counter()
busy_seconds: defaultdict[str, float] = defaultdict(float)
cpu_seconds: defaultdict[str, float] = defaultdict(float)
# The handler running on this thread (benchmarks attribute AWS requests to it).
current = threading.local()


def invoke(
    handler: str,
    event: Any,
    context: LambdaContext,
    *,
    function_env: dict[str, str] | None = None,
    limit: int | None = None,
    wait: bool = False,
    background: bool = False,
    max_seconds: float | None = None,
) -> tuple[bool, str]:
    """Run one invocation; ``(ok, payload JSON)`` where a failure's payload is the runtime's
    error payload. Raises ``Throttled`` when the function may not have another environment
    (``wait``: wait for one instead, as an event source poller does) and ``TimedOut``."""
    if _pools is None or handler in _overrides:
        return _invoke_here(handler, event, context)
    from infra.local.environments import INIT_SECONDS

    env = {
        **_base_env,
        **(function_env or {}),
        "AWS_LAMBDA_FUNCTION_NAME": context.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(context.memory_limit_in_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": context.function_version,
        # botocore adds it to every request's User-Agent: the emulator can tell who asked.
        "AWS_SDK_UA_APP_ID": context.function_name[:50],
    }
    fields = {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "timeout_seconds": context.timeout_seconds,
        "aws_request_id": context.aws_request_id,
        "region": context.region,
    }
    outcome = _pools.invoke(
        context.function_name,
        handler,
        event,
        fields,
        env,
        limit=limit,
        wait=wait,
        background=background,
        timeout=min(context.timeout_seconds * _timeout_scale, max_seconds or float("inf")),
        # The init phase (imports) is stretched as the invocation is: a busy machine is slower at both.
        init_timeout=INIT_SECONDS * max(1.0, _timeout_scale),
    )
    invocations[handler] += 1
    busy_seconds[handler] += outcome.wall_seconds
    cpu_seconds[handler] += outcome.cpu_seconds
    return outcome.ok, outcome.payload


# Handlers run in this process run on these threads, so a stuck one still times out.
_here = ThreadPoolExecutor(max_workers=32, thread_name_prefix="handler")


def _invoke_here(handler: str, event: Any, context: LambdaContext) -> tuple[bool, str]:
    from infra.local.environments import TimedOut

    # A copy, as an environment gets its own: a stream record's images share their values
    # with what the emulator answers for the item (moto_patches 38).
    future = _here.submit(call, handler, copy.deepcopy(event), context)
    try:
        result = future.result(timeout=context.timeout_seconds)
    except FutureTimeout as exc:  # the thread runs on; the caller gets the timeout
        raise TimedOut(f"Task timed out after {context.timeout_seconds:.2f} seconds") from exc
    except Exception as exc:  # the runtime turns any exception into an error payload
        return False, json.dumps(error_payload(exc, context.aws_request_id))
    try:
        return True, json.dumps(result)
    except (TypeError, ValueError) as exc:
        error = {
            "errorMessage": f"Unable to marshal response: {exc}",
            "errorType": "Runtime.MarshalError",
            "requestId": context.aws_request_id,
            "stackTrace": [],
        }
        return False, json.dumps(error)


def call(handler: str, event: Any, context: LambdaContext) -> Any:
    """Call the handler in this process, one invocation per handler at a time."""
    function = resolve(handler)
    invocations[handler] += 1
    with _environment(handler):
        started, cpu = time.perf_counter(), time.thread_time()
        outer, current.handler = getattr(current, "handler", None), handler
        try:
            return function(event, context)
        finally:
            current.handler = outer
            busy_seconds[handler] += time.perf_counter() - started
            cpu_seconds[handler] += time.thread_time() - cpu
            drop_disabled_metrics()


def drop_disabled_metrics() -> None:
    """With POWERTOOLS_METRICS_DISABLED, Powertools skips the flush but keeps the values,
    and prints them anyway once a hundred pile up: drop them after each invocation."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        _metrics().clear_metrics()


@functools.cache
def _metrics() -> Any:
    """One ``Metrics`` for the clearing: every instance holds the same values (Powertools
    keeps them on the class), and making one per invocation was 28 µs of it."""
    from aws_lambda_powertools import Metrics

    return Metrics()
