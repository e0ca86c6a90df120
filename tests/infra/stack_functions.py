"""Functions the local stack tests run in the stack's execution environments.

Apart from the tests: every new environment imports the module that defines its handler,
and the tests' module imports the whole local stack (seconds of CPU per environment).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from shared.errors import RetryableError

HERE = __name__
logger = Logger(service="local-stack-test")


def _records() -> Path:
    """The handlers run in the stack's worker processes: they record their calls in files, in
    the directory of the process that first imported this module (the environment variable
    reaches every environment its stack starts), which removes it when it exits."""
    inherited = os.environ.get("OMS_TEST_RECORDS")
    if inherited:
        return Path(inherited)
    created = tempfile.mkdtemp(prefix="oms-test-records-")
    os.environ["OMS_TEST_RECORDS"] = created
    atexit.register(shutil.rmtree, created, ignore_errors=True)
    return Path(created)


RECORDS = _records()


def record(name: str, event: Any) -> None:
    with (RECORDS / f"{name}.jsonl").open("a") as out:  # one small append: atomic
        out.write(json.dumps(event) + "\n")


def calls(name: str) -> list[Any]:
    try:
        lines = (RECORDS / f"{name}.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line]


# --- handlers -------------------------------------------------------------------------


def echo(event: Any, context: Any) -> dict[str, Any]:
    record("echo", event)
    return {"echo": event, "function_name": context.function_name}


@logger.inject_lambda_context
def powertools_echo(event: Any, context: Any) -> dict[str, Any]:
    return {"request_id": context.aws_request_id, "remaining": context.get_remaining_time_in_millis()}


def always_retryable(event: Any, context: Any) -> None:
    record("always_retryable", event)
    raise RetryableError("inventory service busy")


SLEEPY_SECONDS = 1.5


def sleepy(event: Any, context: Any) -> dict[str, Any]:
    time.sleep(SLEEPY_SECONDS)
    return {"pid": os.getpid()}


def rendezvous(event: Any, context: Any) -> dict[str, Any]:
    """Arrive, then wait (briefly) for ``expect`` invocations to have arrived."""
    meeting = Path(event["dir"])
    (meeting / str(os.getpid())).touch()
    # Within the function's timeout; new environments start slowly on a loaded machine.
    deadline = time.monotonic() + float(event.get("wait_seconds", 2.5))
    while time.monotonic() < deadline:
        if len(list(meeting.iterdir())) >= event["expect"]:
            return {"pid": os.getpid(), "met": True}
        time.sleep(0.05)
    return {"pid": os.getpid(), "met": False}


def fail_once(event: Any, context: Any) -> dict[str, Any]:
    """Retryable the first time it sees ``key``, then its echo."""
    record("fail_once", event)
    try:
        (RECORDS / f"fail-once-{event['key']}").touch(exist_ok=False)
    except FileExistsError:
        return {"key": event["key"]}
    raise RetryableError("first attempt fails")


def crash(event: Any, context: Any) -> None:
    raise ValueError("boom")


def not_json(event: Any, context: Any) -> Any:
    return {"when": object()}


def keep_token(event: Any, context: Any) -> dict[str, Any]:
    record("token", event["token"])
    return {}


def read_table(event: Any, context: Any) -> dict[str, Any]:
    """Two DynamoDB requests from a worker environment, with the SDK as handlers use it."""
    ddb = boto3.client("dynamodb")
    for _ in range(2):
        ddb.get_item(TableName=event["table"], Key={"pk": {"S": "NOPE"}, "sk": {"S": "NOPE"}}, ConsistentRead=True)
    return {"ok": True}


def authorization_sent(event: Any, context: Any) -> dict[str, Any]:
    """The Authorization header of a DynamoDB request from a worker environment, and its answer."""
    ddb = boto3.client("dynamodb")
    sent: list[str] = []
    ddb.meta.events.register("before-send", lambda request, **kwargs: sent.append(request.headers["Authorization"]))
    answer = ddb.get_item(TableName=event["table"], Key={"pk": {"S": "NOPE"}, "sk": {"S": "NOPE"}})
    return {"authorization": [a.decode() if isinstance(a, bytes) else a for a in sent], "found": "Item" in answer}


def api_echo(event: Any, context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}


def api_fallback(event: Any, context: Any) -> dict[str, Any]:
    return {"statusCode": 404, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}


def api_binary(event: Any, context: Any) -> dict[str, Any]:
    return {
        "statusCode": 201,
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": base64.b64encode(b"\x00\x01").decode(),
        "isBase64Encoded": True,
    }


def api_slow(event: Any, context: Any) -> dict[str, Any]:
    time.sleep(2)
    return {"statusCode": 200, "body": ""}


def api_malformed(event: Any, context: Any) -> str:
    return "not a proxy response"
