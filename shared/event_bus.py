"""Domain events on EventBridge."""

from __future__ import annotations

import json
from typing import Any

from shared.aws import client
from shared.errors import RetryableError
from shared.settings import get_settings

SOURCE = "oms"
_MAX_ENTRIES = 10  # PutEvents limit per call


def publish(events: list[dict[str, Any]]) -> None:
    """Each event: {"detail_type", "detail"}. Raises RetryableError if any entry failed."""
    bus = get_settings().event_bus_name
    for start in range(0, len(events), _MAX_ENTRIES):
        chunk = events[start : start + _MAX_ENTRIES]
        out = client("events").put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": e["detail_type"],
                    "Detail": json.dumps(e["detail"], separators=(",", ":")),
                    "EventBusName": bus,
                }
                for e in chunk
            ]
        )
        if out.get("FailedEntryCount"):
            raise RetryableError(f"{out['FailedEntryCount']} domain events were not accepted")
