"""The merchant's change policy: what cancels and returns refund, and when exchanges ship.

Stored as one item (``CONFIG`` / ``RETURNS``, functions/changes/store.py); absent, the
defaults below apply.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
