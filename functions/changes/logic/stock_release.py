"""Giving back the stock held for cancelled units.

The cancellation itself took the units out of the line's ``allocated`` bucket (with
``cancelled``, in one write). Allocations not yet on a fulfillment order are released
here, in one transaction with the stock item, each pinned on its counts and on still being
on none (one that moved since the read sends the follow-up round again); units already on
a fulfillment order are cancelled there, which releases them and resumes the execution
waiting on it; neither touches the line's buckets again. A parked backorder wait is woken
when nothing is left to allocate, so the execution moves on.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from functions.allocate.api import (
    backorder_waiter,
    consume_allocations,
    held,
    wake_order,
)
from functions.changes.store import change_sk
from functions.inventory.api import release_op
from shared.clock import now_iso
from shared.errors import RetryableError
from shared.order import keys
from shared.order.quantities import LineQuantities
from shared.order.record import load_order
from shared.table import ConditionFailed, Item, Table


def _free_allocations(others: dict[str, list[Item]]) -> list[Item]:
    on_fulfillment = {sk for fo in others.get("FO", []) for sk in fo.get("allocations", [])}
    return [
        a
        for a in others.get("ALLOC", [])
        if a.get("status") == "reserved" and a["sk"] not in on_fulfillment and held(a) > 0
    ]


def _release_ops(order_id: str, line: Item, allocations: list[Item], quantity: int, at: str) -> list[dict[str, Any]]:
    ops, after = consume_allocations(allocations, line["line_id"], quantity, "released", at, unlinked=True)
    before = {a["sk"]: int(a.get("released", 0)) for a in allocations}
    # Allocations of several rounds can share a stock item: one operation per item.
    per_stock: dict[tuple[str, str], int] = defaultdict(int)
    for a in after:
        per_stock[(a["sku"], a["location_id"])] += int(a.get("released", 0)) - before.get(a["sk"], 0)
    ops += [release_op(sku, location, q) for (sku, location), q in sorted(per_stock.items()) if q]
    return ops


def _mark_op(order_id: str, change_id: str, line_id: str, released: int, on_fulfillment: int) -> dict[str, Any]:
    """Record on the change that this line's stock is dealt with: a rerun skips it."""
    return {
        "Update": {
            "Key": {"pk": keys.order_pk(order_id), "sk": change_sk(change_id)},
            "UpdateExpression": "SET stock_released.#line = :done",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(stock_released.#line)",
            "ExpressionAttributeNames": {"#line": line_id},
            "ExpressionAttributeValues": {":done": {"released": released, "on_fulfillment": on_fulfillment}},
        }
    }


def _cancelled_mark_op(order_id: str, change_id: str) -> dict[str, Any]:
    """Record on the change that its units on fulfillment orders are cancelled, once."""
    return {
        "Update": {
            "Key": {"pk": keys.order_pk(order_id), "sk": change_sk(change_id)},
            "UpdateExpression": "SET fulfillment_cancelled = :t",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(fulfillment_cancelled)",
            "ExpressionAttributeValues": {":t": True},
        }
    }


def release_cancelled_units(order_id: str, change_id: str, units: dict[str, int], *, reason: str) -> dict[str, int]:
    """Release ``units`` (line id -> held units cancelled) once per change; returns what
    was handed to fulfillment to cancel."""
    record = load_order(order_id)
    if record is None:
        return {}
    table = Table()
    change = next((c for c in record.others.get("CHG", []) if c["change_id"] == change_id), None)
    done = (change or {}).get("stock_released") or {}
    lines = {line["line_id"]: line for line in record.lines}
    free = _free_allocations(record.others)
    on_fulfillment: dict[str, int] = {}
    at = now_iso()
    for line_id, quantity in units.items():
        if line_id in done:
            if int(done[line_id]["on_fulfillment"]) and not (change or {}).get("fulfillment_cancelled"):
                on_fulfillment[line_id] = int(done[line_id]["on_fulfillment"])
            continue
        line = lines[line_id]
        mine = [a for a in free if a["line_id"] == line_id]
        here = min(quantity, sum(held(a) for a in mine))
        ops = _release_ops(order_id, line, mine, here, at) if here else []
        try:
            table.transact([*ops, _mark_op(order_id, change_id, line_id, here, quantity - here)])
        except ConditionFailed as err:
            # An allocation moved since the read (released by another change, or handed to a
            # fulfillment order): the follow-up runs again on what the table holds now.
            raise RetryableError(f"order {order_id}: allocations changed while releasing cancelled units") from err
        if quantity - here:
            on_fulfillment[line_id] = quantity - here
    if on_fulfillment:
        from functions.fulfill.api import cancel_fulfillment_lines

        # Marked in the cancellation's own transaction: a rerun after a crash past it cancels nothing twice.
        cancel_fulfillment_lines(
            order_id, on_fulfillment, reason, line_ops=False, once=_cancelled_mark_op(order_id, change_id)
        )
        table.update(
            keys.order_pk(order_id), change_sk(change_id), "SET fulfillment_cancelled = :t", values={":t": True}
        )
    wake_if_nothing_to_allocate(order_id)
    return on_fulfillment


def wake_if_nothing_to_allocate(order_id: str) -> bool:
    if backorder_waiter(order_id) is None:
        return False
    record = load_order(order_id)
    if record is not None and any(LineQuantities.of(line).to_allocate > 0 for line in record.lines):
        return False
    return wake_order(order_id, reason="backordered units cancelled")
