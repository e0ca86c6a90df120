"""A line's quantity buckets, typed, with what follows from them (no I/O).

Every order line carries ``quantities``: units ``ordered``, ``allocated`` (stock held or
consumed for them), ``shipped``, ``cancelled``, ``return_initiated`` (on an open return)
and ``returned``. An absent bucket means 0. A line's status follows from its buckets and
is never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

BUCKETS = ("ordered", "allocated", "shipped", "cancelled", "return_initiated", "returned")


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
