"""A pickup order its customer never collected: cancelled as any cancellation is.

The workflow's pickup wait timed out (the pickup policy's ``no_show_after_days``); the
units still waiting at the store are cancelled as one change order by the system: the
authorization for them is voided (or what was captured refunded), their reservations are
released, and the order is cancelled when nothing else of it is live. Safe to run twice:
a second run finds no unit waiting (or none left to cancel) and does nothing.
"""

from __future__ import annotations

from typing import Any

from functions.changes.logic.cancel import cancel_order
from functions.changes.logic.models import CancelLineIn, CancelRequest
from functions.fulfill.api import uncollected_units
from shared.api.caller import Caller
from shared.order.quantities import LineQuantities
from shared.order.record import load_order
from shared.order.state import is_done

NO_SHOW_REASON = "pickup_not_collected"
SYSTEM = Caller(principal_id="system", role="ops")


def cancel_uncollected_pickup(order_id: str, fo_id: str) -> dict[str, Any]:
    waiting = uncollected_units(order_id, fo_id)
    record = load_order(order_id)
    if not waiting or record is None or is_done(record.header):
        return {"cancelled": False, "fo_id": fo_id}
    cancellable = {line["line_id"]: LineQuantities.of(line).cancellable for line in record.lines}
    to_cancel = {line_id: min(units, cancellable.get(line_id, 0)) for line_id, units in sorted(waiting.items())}
    lines = [CancelLineIn(line_id=line_id, quantity=units) for line_id, units in to_cancel.items() if units > 0]
    if not lines:
        return {"cancelled": False, "fo_id": fo_id}
    change = cancel_order(SYSTEM, order_id, CancelRequest(lines=lines, reason=NO_SHOW_REASON), preview=False)
    return {"cancelled": True, "fo_id": fo_id, "change_id": change["change_id"]}
