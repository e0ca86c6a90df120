"""Sending to SQS: the only module that calls SQS. Queue URLs come from settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import client
from shared.errors import RetryableError, Throttled
from shared.retry import attempts

BATCH_LIMIT = 10  # SendMessageBatch takes at most 10 messages...
BATCH_BYTES = 256 * 1024  # ...of at most this many bytes together
_THROTTLED = {"ThrottlingException", "RequestThrottled", "AWS.SimpleQueueService.RequestThrottled"}


def send_messages(queue_url: str, bodies: Sequence[str], *, delay_seconds: int = 0) -> None:
    """Send every body, in batches SQS accepts; entries SQS refused for a moment are sent again.
    ``delay_seconds`` (at most 900) keeps the messages invisible that long."""
    if not queue_url:
        raise RetryableError("no queue configured")
    for batch in _batches(bodies):
        pending: list[dict[str, Any]] = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
        if delay_seconds:
            pending = [entry | {"DelaySeconds": delay_seconds} for entry in pending]
        for _attempt in attempts(5):
            out = _send_batch(queue_url, pending)
            failed = {f["Id"]: f for f in out.get("Failed", [])}
            if any(f.get("SenderFault") for f in failed.values()):
                raise ValueError(f"SQS refused a message: {next(iter(failed.values())).get('Message')}")
            pending = [entry for entry in pending if entry["Id"] in failed]
            if not pending:
                break
        else:
            raise RetryableError("SQS kept refusing messages")


def _batches(bodies: Sequence[str]) -> list[list[str]]:
    batches: list[list[str]] = [[]]
    size = 0
    for body in bodies:
        length = len(body.encode())
        if length > BATCH_BYTES:
            raise ValueError(f"a message of {length} bytes is larger than SQS accepts")
        if len(batches[-1]) == BATCH_LIMIT or size + length > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(body)
        size += length
    return [b for b in batches if b]


def _send_batch(queue_url: str, entries: list[dict[str, Any]]) -> Any:
    try:
        return client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in _THROTTLED:
            raise Throttled("SQS throttled the request") from err
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise RetryableError(f"SQS failed: {code}") from err
        raise
