"""Sending to SQS: the only module that calls SQS. Queue URLs come from settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import client
from shared.errors import RetryableError, Throttled

BATCH_LIMIT = 10  # SendMessageBatch takes at most 10 messages
_THROTTLED = {"ThrottlingException", "RequestThrottled", "AWS.SimpleQueueService.RequestThrottled"}


def send_messages(queue_url: str, bodies: Sequence[str]) -> None:
    """Send every body, in batches of ten; entries SQS refused for a moment are sent again."""
    if not queue_url:
        raise RetryableError("no queue configured")
    for start in range(0, len(bodies), BATCH_LIMIT):
        pending = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + BATCH_LIMIT])]
        for _attempt in range(5):
            out = _send_batch(queue_url, pending)
            failed = {f["Id"]: f for f in out.get("Failed", [])}
            if any(f.get("SenderFault") for f in failed.values()):
                raise ValueError(f"SQS refused a message: {next(iter(failed.values())).get('Message')}")
            pending = [entry for entry in pending if entry["Id"] in failed]
            if not pending:
                break
        else:
            raise RetryableError("SQS kept refusing messages")


def _send_batch(queue_url: str, entries: list[dict[str, str]]) -> Any:
    try:
        return client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in _THROTTLED:
            raise Throttled("SQS throttled the request") from err
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise RetryableError(f"SQS failed: {code}") from err
        raise
