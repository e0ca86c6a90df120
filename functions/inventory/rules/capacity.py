"""A location's daily shipping capacity: the day, the room left, when a counter expires."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared.errors import Conflict

# Capacity counters outlive their day by this much, for operators looking back.
CAPACITY_KEEP_DAYS = 3


class CapacityExceeded(Conflict):
    """More shipments than the location's daily capacity allows."""


def check_day(day: str) -> str:
    """``day`` as given; ValueError unless YYYY-MM-DD."""
    date.fromisoformat(day)
    return day


def check_shipments(shipments: int) -> None:
    if shipments < 1:
        raise ValueError("shipments must be at least 1")


def counter_expires(day: str) -> int:
    """When the counter of ``day`` expires (epoch seconds): ``CAPACITY_KEEP_DAYS`` after the day ends."""
    end = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    return int((end + timedelta(days=CAPACITY_KEEP_DAYS)).timestamp())


def room_before(location_id: str, daily_capacity: int, shipments: int) -> int:
    """The count the day may hold before adding ``shipments``; ``CapacityExceeded`` if
    ``shipments`` alone are more than the whole capacity."""
    room = daily_capacity - shipments
    if room < 0:
        raise CapacityExceeded(f"{location_id} ships at most {daily_capacity} a day")
    return room
