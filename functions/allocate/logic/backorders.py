"""Backorders: park the execution until stock arrives, wake it, or cancel what waited too long."""

from __future__ import annotations

from typing import Any

from functions.allocate import store
from functions.allocate.logic.planning import open_quantity
from functions.inventory.api import stock_for_skus
from shared.clock import now_iso
from shared.errors import NotFound
from shared.order.quantities import bucket_write
from shared.order.record import load_order
from shared.order.state import HeaderUpdate, Reason, after_backorders_cancelled
from shared.order.timeline import event_item
from shared.table import Table
from shared.workflow import resume_task


def park_order(order_id: str, task_token: str, stock_seen: dict[str, int] | None = None) -> dict[str, Any]:
    """Store the token; resume at once only if a waiting SKU gained stock since the plan."""
    record = load_order(order_id)
    if record is None:
        raise NotFound(f"no order {order_id}")
    skus = sorted({line["sku"] for line in record.lines if open_quantity(line) > 0})
    if not skus:
        resume_task(task_token, {"reason": "nothing backordered"})
        return {"parked": False}
    store.park_backorder(order_id, task_token, skus)
    # Token first, then look again: a cancellation that committed meanwhile found no
    # waiter to wake, so the wait must see for itself that nothing is left to wait for.
    again = load_order(order_id)
    if again is not None and not any(open_quantity(line) > 0 for line in again.lines):
        wake_order(order_id, reason="nothing left to allocate")
        return {"parked": False}
    seen = stock_seen or {}
    now = {sku: sum(r.available_to_promise for r in by_loc.values()) for sku, by_loc in stock_for_skus(skus).items()}
    if any(now.get(sku, 0) > seen.get(sku, 0) for sku in skus):
        wake_order(order_id, reason="stock arrived while parking")
        return {"parked": False, "skus": skus}
    return {"parked": True, "skus": skus}


def wake_order(order_id: str, *, reason: str) -> bool:
    """Resume an order waiting for stock; False if it was not waiting (or already woken).

    The waiter is removed only after the resume went through (or its token turned out
    spent), so a failure here leaves it for the next stock change to try again.
    """
    parked = store.backorder_waiter(order_id)
    if parked is None:
        return False
    resumed = resume_task(parked["task_token"], {"reason": reason})
    store.take_backorder(order_id)
    return resumed


def wake_for_skus(skus: set[str], *, per_sku: int = 25) -> int:
    """Wake the oldest orders waiting for each SKU whose stock grew. Each wakes once."""
    woken = 0
    for sku in sorted(skus):
        for order_id in store.orders_waiting_for(sku, limit=per_sku):
            woken += wake_order(order_id, reason=f"stock arrived for {sku}")
    return woken


def cancel_backorders(order_id: str, *, workflow_status_when_done: str | None = None) -> dict[str, Any]:
    """Cancel every unit still unallocated. Releases nothing: backordered units hold no stock."""
    table = Table()
    record = load_order(order_id)
    if record is None:
        raise NotFound(f"no order {order_id}")
    store.take_backorder(order_id)
    at = now_iso()
    cancelled = {line["line_id"]: open_quantity(line) for line in record.lines if open_quantity(line) > 0}
    ops: list[dict[str, Any]] = []
    for line in record.lines:
        quantity = cancelled.get(line["line_id"], 0)
        if quantity:
            ops.append(bucket_write(line, cancelled=quantity, at=at))
    allocated = sum(int(line.get("quantities", {}).get("allocated", 0)) for line in record.lines)
    header = HeaderUpdate(order_id, at).fulfillment(after_backorders_cancelled(allocated))
    if allocated == 0:
        header.because(Reason.ALL_UNITS_CANCELLED)
    if workflow_status_when_done:
        header.workflow(workflow_status_when_done)
    ops.append(header.op())
    if cancelled:
        ops.append({"Put": {"Item": event_item(order_id, "order.backorder_cancelled", {"lines": cancelled}, at=at)}})
    for start in range(0, len(ops), 100):  # lines first, the header and event last
        table.transact(ops[start : start + 100])
    return {"allocated_units": allocated, "backordered_units": 0, "cancelled_units": sum(cancelled.values())}
