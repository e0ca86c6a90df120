"""The wait on a fulfillment order (AdvanceOrder's own, then AwaitFulfillment's): park the
execution's task token for it.

Race-free: the token is written first (``FOWAIT#<fo_id>``), then the order's shipments and
the order are read back (consistently, in that order: ``park_and_read``): if it already
moved on (closed, a shipment not yet captured, or a change the execution has not seen,
recorded as ``signal``), the execution hears it at once.
Otherwise the API tells it when the location ships, rejects or makes the order ready for
pickup, or the order is cancelled (on the branch the news takes:
functions/fulfill/rules/waits.py): each of those writes the order first and reads the
token after, so of a wait and a change at the same moment at least one sees the other
(both may: the second signal finds the token spent).
"""

from __future__ import annotations

from typing import Any

from functions.fulfill.logic.resume import clear_signal, signal_wait
from functions.fulfill.rules.pickup import seconds_to_no_show
from functions.fulfill.rules.status import READY_FOR_PICKUP, is_terminal
from functions.fulfill.store import park_and_read
from shared.clock import now
from shared.table import Item, Table


def _news(fo: Item, shipments: list[Item]) -> str | None:
    """What the execution should hear about now, if anything."""
    if is_terminal(fo):
        return str(fo["status"])
    if any(s["capture_status"] == "pending" for s in shipments):
        return "shipped"
    if fo["status"] == READY_FOR_PICKUP:  # the execution moves on to its pickup wait
        return READY_FOR_PICKUP
    signal = fo.get("signal")
    return str(signal) if signal else None


def await_fulfillment(order_id: str, fo_id: str, task_token: str) -> dict[str, Any]:
    table = Table()
    fo, shipments = park_and_read(order_id, fo_id, task_token, now(), table)
    event = _news(fo, shipments)
    if event is None:
        return {"fo_id": fo_id, "resumed": False}
    output: dict[str, Any] = {"event": event, "fo_id": fo_id}
    if event == READY_FOR_PICKUP:
        output["no_show_after_seconds"] = seconds_to_no_show(fo, now())
    signal_wait(task_token, output, fo)
    clear_signal(fo, table)
    return {"fo_id": fo_id, "resumed": True, "event": event}
