"""Stock arithmetic and checks, without the table.

A stock item stores ``available`` = on_hand - reserved - safety_stock next to its counts
(DynamoDB conditions cannot do arithmetic); it may be negative when the warehouse reports
less stock than is reserved, and readers show ``available_to_promise`` = max(0, available).
"""

from __future__ import annotations

from datetime import datetime

from shared.clock import iso
from shared.errors import InvalidInput


def available_to_promise(available: int) -> int:
    """What may still be promised: the stored ``available``, never below 0."""
    return max(0, available)


def unreserved_units(on_hand: int, safety_stock: int) -> int:
    """``available`` before reservations are subtracted (an absolute update's ``on_hand - safety_stock``)."""
    return on_hand - safety_stock


def check_absolute(on_hand: int, safety_stock: int | None) -> None:
    """Absolute stock figures cannot be negative."""
    if on_hand < 0 or (safety_stock is not None and safety_stock < 0):
        raise InvalidInput("stock figures cannot be negative")


def check_delta(delta: int) -> None:
    """An adjustment moves on hand by something."""
    if delta == 0:
        raise InvalidInput("delta cannot be 0", errors=[{"field": "delta", "message": "not 0"}])


def check_quantity(quantity: int) -> None:
    """A reservation, release or shipment moves at least one unit."""
    if quantity < 1:
        raise ValueError("quantity must be at least 1")


def normalize_as_of(value: str | datetime) -> str:
    """``as_of`` as the table stores it (UTC, milliseconds, Z), so strings compare as instants."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as err:
            raise InvalidInput(
                "as_of is not an ISO 8601 timestamp", errors=[{"field": "as_of", "message": "ISO 8601 expected"}]
            ) from err
    if value.tzinfo is None:
        raise InvalidInput("as_of needs a time zone", errors=[{"field": "as_of", "message": "add Z or an offset"}])
    return iso(value)


def is_stale(stored_as_of: str | None, stamp: str) -> bool:
    """An absolute update stamped ``stamp`` is ignored when the stored ``as_of`` is as new or newer."""
    return stored_as_of is not None and stored_as_of >= stamp
