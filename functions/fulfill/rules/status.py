"""A fulfillment order's statuses and the units of its lines: what is open, what is settled."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.table import Item

OPEN_STATUSES = ("allocated", "accepted", "picked", "packed", "ready_for_pickup")
# ``picked_up``: a pickup order the customer collected (its ``fulfilled``).
TERMINAL_STATUSES = ("fulfilled", "rejected", "cancelled", "picked_up")
READY_FOR_PICKUP = "ready_for_pickup"
PICKED_UP = "picked_up"
PICKUP_GROUP = "pickup"
LINE_BUCKETS = ("shipped", "rejected", "cancelled")


def is_terminal(fo: Item) -> bool:
    return fo["status"] in TERMINAL_STATUSES


def awaited(fos: Iterable[Item], shipments: Iterable[Item]) -> list[Item]:
    """The fulfillment orders the workflow still waits on: the open ones, and closed ones
    with a shipment not yet captured (a wake-up the execution missed, a lost task token:
    the shipment must still be captured before the order completes)."""
    uncaptured = {s.get("fo_id") for s in shipments if s.get("capture_status") == "pending"}
    return [fo for fo in fos if not is_terminal(fo) or fo["fo_id"] in uncaptured]


def open_units(line: dict[str, Any]) -> int:
    """Units of a fulfillment order line still to ship: not shipped, rejected or cancelled."""
    return int(line["quantity"]) - sum(int(line.get(b, 0)) for b in LINE_BUCKETS)


def settled_status(current: str, lines: Iterable[dict[str, Any]]) -> str:
    """The status once lines moved: unchanged while any unit is open, else fulfilled when
    something shipped, rejected when something was rejected, cancelled otherwise."""
    lines = list(lines)
    if current in TERMINAL_STATUSES or any(open_units(line) > 0 for line in lines):
        return current
    if any(int(line.get("shipped", 0)) for line in lines):
        return "fulfilled"
    if any(int(line.get("rejected", 0)) for line in lines):
        return "rejected"
    return "cancelled"
