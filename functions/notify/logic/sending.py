"""Sending a customer message: SES in the cloud, the table's outbox on the local stack.

``settings.notifications_transport`` picks the transport. A message SES refuses for good
(a malformed address) raises ``Rejected``; throttling and outages raise
``RetryableError`` so the queue delivers the event again.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from functions.notify.rules.templates import Message
from functions.notify.store import put_outbox_message
from shared.aws import client
from shared.errors import RetryableError
from shared.settings import get_settings

_REJECTED = {"MessageRejected", "BadRequestException"}
_RETRYABLE = {"TooManyRequestsException", "LimitExceededException", "ThrottlingException", "SendingPausedException"}


class Rejected(Exception):
    """The transport will never accept this message."""


def send(message: Message, *, to: str, order_id: str, event_id: str, at: str, kind: str) -> str:
    """Send ``message`` to ``to``; the transport's message id."""
    if get_settings().notifications_transport == "ses":
        return _send_ses(message, to)
    return put_outbox_message(
        order_id=order_id,
        event_id=event_id,
        at=at,
        kind=kind,
        to=to,
        subject=message.subject,
        text=message.text,
        html=message.html,
    )


def _send_ses(message: Message, to: str) -> str:
    content = {
        "Simple": {
            "Subject": {"Data": message.subject, "Charset": "UTF-8"},
            "Body": {
                "Text": {"Data": message.text, "Charset": "UTF-8"},
                "Html": {"Data": message.html, "Charset": "UTF-8"},
            },
        }
    }
    try:
        out = client("sesv2").send_email(
            FromEmailAddress=get_settings().notifications_sender,
            Destination={"ToAddresses": [to]},
            Content=content,
        )
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in _REJECTED:
            raise Rejected(code) from err
        if code in _RETRYABLE or err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise RetryableError(f"SES failed: {code}") from err
        raise
    return str(out["MessageId"])
