"""When holds expire and how long the workflow waits on them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def due(holds: Mapping[str, Mapping[str, Any]], now: datetime) -> list[str]:
    """The active holds whose expiry has passed, oldest expiry first."""
    expiring = [(str(h["expires_at"]), hold_id) for hold_id, h in holds.items() if h.get("expires_at")]
    return [hold_id for at, hold_id in sorted(expiring) if datetime.fromisoformat(at) <= now]


def wait_seconds(holds: Mapping[str, Mapping[str, Any]], now: datetime, *, longest: int) -> int:
    """How long to wait before the next hold expires (at least a second; ``longest`` if none does)."""
    expiries = [datetime.fromisoformat(str(h["expires_at"])) for h in holds.values() if h.get("expires_at")]
    if not expiries:
        return longest
    seconds = (min(expiries) - now).total_seconds()
    return max(1, min(longest, int(seconds) + 1))
