"""Make moto's Lambda run the project's handlers in process instead of in Docker.

moto invokes every function (``Invoke``, Step Functions tasks, SQS and DynamoDB stream
event source mappings) through the private ``LambdaFunction._invoke_lambda(self, event)``,
which returns ``(payload_json, errored, logs)``. Replacing that one method routes them
all to the handler named by the function's ``Handler`` string. It is private API, so
``assert_moto_compatible`` checks its shape and the moto version is pinned.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from typing import Any

import moto
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.utilities.docker_utilities import DockerModel

from infra.local import runtime
from infra.local.environments import Throttled, TimedOut

log = logging.getLogger(__name__)

_ORIGINAL = LambdaFunction._invoke_lambda
TESTED_MOTO = "5.2.5"


class TooManyRequests(LambdaClientError):
    """What Lambda answers a synchronous invocation beyond the function's concurrency."""

    code = 429

    def __init__(self, message: str):
        super().__init__("TooManyRequestsException", message)


def assert_moto_compatible() -> None:
    """Fail loudly if moto no longer invokes functions the way the adapter expects."""
    where = f"moto {moto.__version__} (adapter written against {TESTED_MOTO})"
    original = _ORIGINAL
    params = list(inspect.signature(original).parameters.values())
    names = [p.name for p in params]
    if names != ["self", "event"] or params[1].default is not None:
        raise AssertionError(
            f"{where}: LambdaFunction._invoke_lambda{inspect.signature(original)} is no longer "
            "(self, event=None); update infra/local/lambda_adapter.py"
        )
    # Invoke, Step Functions tasks and both event source mappings all go through invoke().
    if "self._invoke_lambda(" not in inspect.getsource(LambdaFunction.invoke):
        raise AssertionError(
            f"{where}: LambdaFunction.invoke no longer calls _invoke_lambda; update infra/local/lambda_adapter.py"
        )
    returns = str(inspect.signature(original).return_annotation)
    if "tuple[str, bool, str]" not in returns:
        raise AssertionError(f"{where}: _invoke_lambda now returns {returns}, not (payload, errored, logs)")


# Every attempt moto makes to reach Docker (it never should: every invocation path goes
# through the adapter). Tests assert it stays empty.
docker_attempts: list[str] = []


def _no_docker(self: Any) -> Any:
    where = getattr(self, "function_name", type(self).__name__)
    docker_attempts.append(where)
    raise RuntimeError(f"{where}: moto tried to run Docker; the local stack runs handlers in its own environments")


def install() -> None:
    """Patch moto (idempotent)."""
    assert_moto_compatible()
    LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]
    # Whatever path moto takes (including after the stack stopped), never Docker.
    DockerModel.docker_client = property(_no_docker)  # type: ignore[assignment,method-assign]


def uninstall() -> None:
    # Executions and pollers may still invoke after the stack stopped: they get an error.
    LambdaFunction._invoke_lambda = _stopped  # type: ignore[method-assign]


def _stopped(self: LambdaFunction, event: str | dict[str, Any] | None = None) -> tuple[str, bool, str]:
    error = {"errorType": "Runtime.Unavailable", "errorMessage": "the local stack has stopped"}
    return json.dumps(error), True, ""


def installed() -> bool:
    return LambdaFunction._invoke_lambda is _invoke_in_process


def invoke(fn: Any, event: Any) -> tuple[str, bool, str]:
    """Run ``fn.handler`` on ``event``; the result as moto expects it."""
    if isinstance(event, (str, bytes)):
        event = json.loads(event) if event else {}
    elif event is None:
        event = {}
    context = runtime.LambdaContext(
        function_name=fn.function_name,
        function_version=str(fn.version),
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size),
        timeout_seconds=float(fn.timeout),
        region=fn.region,
    )
    request_id = context.aws_request_id
    started = time.monotonic()
    records = event.get("Records") if isinstance(event, dict) else None
    # Event source pollers never run a function past its concurrency: they wait for a
    # free environment. Synchronous callers (Invoke, Step Functions tasks) are throttled.
    polled = (
        isinstance(records, list) and bool(records) and isinstance(records[0], dict) and "eventSource" in records[0]
    )
    # An HTTP API event has a caller waiting on the answer; nobody waits on the rest as closely.
    answers_a_caller = isinstance(event, dict) and isinstance(event.get("requestContext"), dict)
    limit = getattr(fn, "reserved_concurrency", None)
    try:
        ok, payload = runtime.invoke(
            fn.handler,
            event,
            context,
            function_env=dict(getattr(fn, "environment_vars", None) or {}),
            limit=int(limit) if limit not in (None, "") else None,
            wait=polled,
            background=not answers_a_caller,
        )
        error = None if ok else json.loads(payload)
    except Throttled as exc:
        log.warning("%s throttled: %s", fn.function_name, exc)
        raise TooManyRequests(str(exc)) from exc
    except TimedOut as exc:
        error = {"errorMessage": f"{request_id} {exc}", "errorType": TimedOut.error_type, "requestId": request_id}
    logs = (
        f"START RequestId: {request_id} Version: {fn.version}\n"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {(time.monotonic() - started) * 1000:.2f} ms"
    )
    if error is not None:
        log.warning("%s failed: %s: %s", fn.function_name, error["errorType"], error["errorMessage"])
        return json.dumps(error), True, logs
    if _failed_partial_batch(fn, event, json.loads(payload)):
        # moto's invoke only answers errored or not: a batch reporting item failures is
        # errored, and the queue's poller reads which items from the payload
        # (moto_patches 23), as Lambda does with ReportBatchItemFailures.
        log.warning("%s reported failed batch items: %s", fn.function_name, payload)
        return payload, True, logs
    return payload, False, logs


def _failed_partial_batch(fn: Any, event: Any, result: Any) -> bool:
    if not (isinstance(result, dict) and result.get("batchItemFailures")):
        return False
    records = event.get("Records") if isinstance(event, dict) else None
    if not records or records[0].get("eventSource") != "aws:sqs":
        return False
    backend = lambda_backends[fn.account_id][fn.region]
    mappings = backend.list_event_source_mappings(records[0]["eventSourceARN"], "")
    return any(
        esm.function_arn == fn.function_arn and "ReportBatchItemFailures" in (esm.function_response_types or [])
        for esm in mappings
    )


def _invoke_in_process(self: LambdaFunction, event: str | dict[str, Any] | None = None) -> tuple[str, bool, str]:
    return invoke(self, event)
