"""Domain events on EventBridge."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import client
from shared.settings import get_settings

SOURCE = "oms"
_MAX_ENTRIES = 10  # PutEvents limit per call


def publish(events: list[dict[str, Any]]) -> list[int]:
    """Publish events ({"detail_type", "detail"}); returns the positions not accepted."""
    bus = get_settings().event_bus_name
    failed: list[int] = []
    for start in range(0, len(events), _MAX_ENTRIES):
        chunk = events[start : start + _MAX_ENTRIES]
        entries = [
            {
                "Source": SOURCE,
                "DetailType": e["detail_type"],
                "Detail": json.dumps(e["detail"], separators=(",", ":")),
                "EventBusName": bus,
            }
            for e in chunk
        ]
        try:
            out = client("events").put_events(Entries=entries)
        except ClientError:
            failed.extend(range(start, start + len(chunk)))
            continue
        failed.extend(start + i for i, result in enumerate(out.get("Entries", [])) if result.get("ErrorCode"))
    return failed
