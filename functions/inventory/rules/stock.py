"""Stock arithmetic and checks, without the table.

A stock item stores ``available`` = on_hand - reserved - safety_stock next to its counts
(DynamoDB conditions cannot do arithmetic); it may be negative when the warehouse reports
less stock than is reserved, and readers show ``available_to_promise`` = max(0, available).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

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


class Figures(NamedTuple):
    """One bucket's counts; ``available`` = on_hand - reserved - safety_stock."""

    on_hand: int
    reserved: int
    safety_stock: int
    available: int


def spread(
    reserved: list[int], on_hand: int, safety_stock: int, *, first: tuple[int, int] | None = None
) -> list[Figures]:
    """The buckets' figures for ``on_hand`` units in total, each bucket keeping its ``reserved``.

    The units free to promise (on hand less reserved and safety stock) are shared evenly
    (``first`` = (bucket, units) gives that bucket its units before the rest are shared);
    the safety stock stays in bucket 0. When fewer units are on hand than reserved and held
    back, everything collapses into bucket 0 (it alone goes below 0, the others are empty):
    a bucket above 0 next to one below 0 would let a unit be promised twice.
    """
    count = len(reserved)
    free = on_hand - safety_stock - sum(reserved)
    if free < 0:
        return [Figures(on_hand, sum(reserved), safety_stock, free)] + [Figures(0, 0, 0, 0)] * (count - 1)
    shares = [0] * count
    if first is not None:
        bucket, units = first
        shares[bucket] = min(units, free)
        free -= shares[bucket]
    for b in range(count):
        shares[b] += free // count + (1 if b < free % count else 0)
    return [
        Figures(r + share + (safety_stock if b == 0 else 0), r, safety_stock if b == 0 else 0, share)
        for b, (r, share) in enumerate(zip(reserved, shares, strict=True))
    ]


def gather_reserved(figures: list[Figures], into: int, quantity: int) -> list[Figures]:
    """Move reservations (with their on-hand units) from the other buckets into ``into`` until
    it holds ``quantity`` reserved, fullest first; every bucket's ``available`` is unchanged."""
    out = list(figures)
    need = quantity - out[into].reserved
    for b in sorted(range(len(out)), key=lambda i: -min(out[i].reserved, out[i].on_hand)):
        if need <= 0:
            break
        if b == into:
            continue
        moved = min(need, out[b].reserved, out[b].on_hand)
        if moved <= 0:
            continue
        src, dst = out[b], out[into]
        out[b] = src._replace(on_hand=src.on_hand - moved, reserved=src.reserved - moved)
        out[into] = dst._replace(on_hand=dst.on_hand + moved, reserved=dst.reserved + moved)
        need -= moved
    return out
