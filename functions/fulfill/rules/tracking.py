"""A shipment's tracking status only moves forward: what a carrier event does to it.

Carriers send events late, twice and out of order. Each status has a rank; an event is
applied when it is newer and does not go back in rank (an exception may come at any
time, delivered and returned-to-sender end the story), and otherwise kept as history.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

RANKS = {"label_created": 1, "in_transit": 2, "out_for_delivery": 3, "delivered": 4, "returned_to_sender": 5}
TERMINAL = frozenset({"delivered", "returned_to_sender"})
EXCEPTION_STATUSES = frozenset({"exception", "returned_to_sender"})


class Outcome(StrEnum):
    APPLIED = "applied"  # the shipment has a new status
    REFRESHED = "refreshed"  # same status, a later scan: time and place updated
    STALE = "stale"  # older or behind what the shipment already has: history only
    DUPLICATE = "duplicate"  # seen before: nothing changed
    ORPHANED = "orphaned"  # no shipment has this tracking number (yet)


@dataclass(frozen=True)
class Tracked:
    """A shipment's tracking state: status, the carrier's time of it, the highest rank reached."""

    status: str | None
    at: str | None
    progress: int

    @classmethod
    def of(cls, shipment: dict[str, Any]) -> Tracked:
        status = shipment.get("tracking_status")
        rank = shipment.get("tracking_rank") or RANKS.get(str(status), 0)
        return cls(status=status, at=shipment.get("tracking_status_at"), progress=int(rank))


def decide(current: Tracked, status: str, at: str) -> Outcome:
    """What an event of ``status`` at ``at`` does to a shipment in state ``current``."""
    newer = current.at is None or at > current.at
    if current.status == "returned_to_sender":
        return Outcome.STALE
    if current.status == "delivered":
        return Outcome.APPLIED if status == "returned_to_sender" and newer else Outcome.STALE
    if status in TERMINAL:
        return Outcome.APPLIED
    if not newer:
        return Outcome.STALE
    if status != "exception" and RANKS[status] < current.progress:
        return Outcome.STALE
    return Outcome.REFRESHED if status == current.status else Outcome.APPLIED
