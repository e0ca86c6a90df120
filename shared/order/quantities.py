"""A line's quantity buckets, typed, with what follows from them (no I/O).

Every order line carries ``quantities``: units ``ordered``, ``allocated`` (stock held or
consumed for them), ``shipped``, ``cancelled``, ``return_initiated`` (on an open return)
and ``returned``. An absent bucket means 0. A line's status follows from its buckets and
is never stored.

Every write that moves a bucket is built here (``bucket_write``, ``allocated_release``):
it refuses a move that would break an invariant, and pins at commit every bucket that
shares an invariant with the moved one, so two writes that are each fine alone but break
an invariant together (a cancel and a shipment of the same units) cannot both commit.
docs/invariants.md lists the invariants and the write paths that carry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from shared.errors import Conflict

BUCKETS = ("ordered", "allocated", "shipped", "cancelled", "return_initiated", "returned")

# The buckets each bucket shares an invariant with (itself included): a write moving a
# bucket pins all of them on the values read. ``ordered`` never moves.
#   allocated + cancelled <= ordered;  shipped + cancelled <= ordered;
#   return_initiated + returned <= shipped
INVARIANT_PARTNERS: dict[str, tuple[str, ...]] = {
    "allocated": ("allocated", "cancelled"),
    "cancelled": ("cancelled", "allocated", "shipped"),
    "shipped": ("shipped", "cancelled", "return_initiated", "returned"),
    "return_initiated": ("return_initiated", "returned", "shipped"),
    "returned": ("returned", "return_initiated", "shipped"),
}


class BucketConflict(Conflict):
    """A move of a line's buckets that would break an invariant (409)."""


@dataclass(frozen=True)
class LineQuantities:
    ordered: int
    allocated: int = 0
    shipped: int = 0
    cancelled: int = 0
    return_initiated: int = 0
    returned: int = 0

    @classmethod
    def of(cls, line: Mapping[str, Any]) -> LineQuantities:
        """A line item's buckets, every one present (absent means 0)."""
        return cls.from_buckets(line.get("quantities") or {})

    @classmethod
    def from_buckets(cls, q: Mapping[str, Any]) -> LineQuantities:
        return cls(**{b: int(q.get(b, 0)) for b in BUCKETS})

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def live(self) -> int:
        """Units the order still wants: ordered, not cancelled."""
        return self.ordered - self.cancelled

    @property
    def to_allocate(self) -> int:
        """Units still waiting for stock: live, not yet allocated."""
        return self.ordered - self.cancelled - self.allocated

    @property
    def unshipped(self) -> int:
        """Live units not shipped yet."""
        return self.ordered - self.cancelled - self.shipped

    @property
    def cancellable(self) -> int:
        """Units that may still be cancelled: ordered, not cancelled, not shipped."""
        return self.unshipped

    @property
    def returnable(self) -> int:
        """Units that may still be returned: shipped, neither returned nor on an open return."""
        return self.shipped - self.returned - self.return_initiated

    def moved(self, **deltas: int) -> LineQuantities:
        """The buckets after adding ``deltas`` (bucket name -> signed units)."""
        unknown = set(deltas) - set(INVARIANT_PARTNERS)
        if unknown:
            raise ValueError(f"not a movable bucket: {sorted(unknown)}")
        q = self.as_dict()
        return LineQuantities.from_buckets({b: q[b] + deltas.get(b, 0) for b in BUCKETS})

    def broken(self) -> list[str]:
        """The invariants these buckets break (empty when consistent)."""
        broken = [f"{b} < 0" for b, v in self.as_dict().items() if v < 0]
        if self.cancelled + self.shipped > self.ordered:
            broken.append("shipped + cancelled > ordered")
        if self.returned + self.return_initiated > self.shipped:
            broken.append("return_initiated + returned > shipped")
        if self.allocated + self.cancelled > self.ordered:
            broken.append("allocated + cancelled > ordered")
        return broken

    def consistent(self) -> bool:
        """The bucket invariants every write keeps."""
        return (
            all(v >= 0 for v in self.as_dict().values())
            and self.cancelled + self.shipped <= self.ordered
            and self.returned + self.return_initiated <= self.shipped
            and self.allocated + self.cancelled <= self.ordered
        )


def line_status(q: LineQuantities) -> str:
    """A line's status follows from its quantity buckets; it is never stored."""
    live = q.live
    if live <= 0:
        return "cancelled"
    if q.returned >= live:
        return "returned"
    if q.shipped >= live:
        return "shipped"
    if q.shipped > 0:
        return "partially_shipped"
    if q.allocated >= live:
        return "allocated"
    if q.allocated > 0:
        return "partially_allocated"
    return "open"


def _same(bucket: str, placeholder: str, value: int) -> str:
    attribute = f"quantities.{bucket}"
    if value == 0:  # an absent bucket means 0
        return f"(attribute_not_exists({attribute}) OR {attribute} = {placeholder})"
    return f"{attribute} = {placeholder}"


def bucket_write(line: Mapping[str, Any], *, at: str | None = None, **deltas: int) -> dict[str, Any]:
    """The transaction item moving a line's buckets by ``deltas``.

    Raises BucketConflict when the buckets read would break an invariant after the move;
    otherwise the write sets the new values and is conditioned on every bucket sharing an
    invariant with a moved one still holding the value read (conditions cannot add, so
    the read values are pinned). A refused condition means another write moved the line:
    read it again and decide again.
    """
    moving = {b: d for b, d in deltas.items() if d}
    if not moving:
        raise ValueError("bucket_write needs a bucket to move")
    before = LineQuantities.of(line)
    after = before.moved(**moving)
    broken = after.broken()
    if broken:
        line_id = line.get("line_id", line.get("sk"))
        moves = ", ".join(f"{b} {d:+d}" for b, d in sorted(moving.items()))
        raise BucketConflict(
            f"line {line_id}: {moves} would leave {'; '.join(broken)} (now {before.as_dict()})",
            errors=[{"field": "quantity", "message": "; ".join(broken)}],
        )
    old, new = before.as_dict(), after.as_dict()
    pins = sorted({p for b in moving for p in INVARIANT_PARTNERS[b]})
    values: dict[str, Any] = {}
    sets: list[str] = []
    for bucket in sorted(moving):
        sets.append(f"quantities.{bucket} = :new_{bucket}")
        values[f":new_{bucket}"] = new[bucket]
    conditions = ["attribute_exists(pk)"]
    for bucket in pins:
        conditions.append(_same(bucket, f":old_{bucket}", old[bucket]))
        values[f":old_{bucket}"] = old[bucket]
    if at is not None:
        sets.append("updated_at = :at")
        values[":at"] = at
    return {
        "Update": {
            "Key": {"pk": line["pk"], "sk": line["sk"]},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeValues": values,
        }
    }


def allocated_release(key: Mapping[str, str], units: int) -> dict[str, Any]:
    """The transaction item giving back ``units`` of a line's ``allocated`` bucket.

    Lowering ``allocated`` can break no upper bound, only ``allocated >= 0``: the condition
    that it still holds ``units`` keeps that at commit without pinning a value read, so
    releases commute with each other (a cancel and a rejection releasing units at once).
    """
    if units <= 0:
        raise ValueError("a release gives back at least one unit")
    return {
        "Update": {
            "Key": {"pk": key["pk"], "sk": key["sk"]},
            "UpdateExpression": "SET quantities.allocated = quantities.allocated - :units",
            "ConditionExpression": "attribute_exists(pk) AND quantities.allocated >= :units",
            "ExpressionAttributeValues": {":units": units},
        }
    }
