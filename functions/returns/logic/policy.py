"""The merchant's change policy: what cancels and returns refund, and when exchanges ship.

Stored as one item (``CONFIG`` / ``RETURNS``) like the routing policy; absent, the
defaults below apply. Read through a one-minute cache per warm function.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.clock import now_iso
from shared.table import Table

_KEY = ("CONFIG", "RETURNS")
_CACHE_SECONDS = 60
_cache: dict[str, object] = {}

# Reasons for which the seller is at fault: shipping is refunded whatever the policy says.
SELLER_FAULT_REASONS = frozenset({"damaged_in_transit", "wrong_item"})


class ChangePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refund_shipping_on_cancel: bool = True
    refund_shipping_on_return: bool = False
    # Basis points of the returned items' subtotal, per return reason.
    restocking_fee_percent_by_reason: dict[str, int] = Field(default_factory=lambda: {"changed_mind": 1000})
    exchange_ships: Literal["on_receipt", "immediately"] = "on_receipt"
    return_window_days: int = Field(30, ge=1, le=365)
    updated_at: str | None = None

    def refunds_shipping(self, reason: str) -> bool:
        return self.refund_shipping_on_return or reason in SELLER_FAULT_REASONS

    def restocking_fee(self, reason: str, subtotal: int) -> int:
        """The fee on ``subtotal`` of returned items for ``reason`` (rounded down)."""
        bps = int(self.restocking_fee_percent_by_reason.get(reason, 0))
        return max(0, subtotal) * bps // 10_000


def load_policy(table: Table | None = None) -> ChangePolicy:
    cached = _cache.get("policy")
    if isinstance(cached, ChangePolicy) and time.monotonic() - float(str(_cache["at"])) < _CACHE_SECONDS:
        return cached
    item = (table or Table()).get(*_KEY, consistent=False) or {}
    policy = ChangePolicy.model_validate({k: v for k, v in item.items() if k in ChangePolicy.model_fields})
    _cache.update(policy=policy, at=time.monotonic())
    return policy


def save_policy(policy: ChangePolicy, table: Table | None = None) -> ChangePolicy:
    stored = policy.model_copy(update={"updated_at": now_iso()})
    (table or Table()).put({"pk": _KEY[0], "sk": _KEY[1], "type": "config", **stored.model_dump(mode="json")})
    _cache.clear()
    return stored
