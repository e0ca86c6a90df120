"""Turning a plan into reservations, all or nothing per order.

Each transaction reserves stock (conditional on what is available), writes the
allocation items standing for it, moves the lines' ``allocated`` buckets and counts the
locations' shipments for the day. A plan too big for one transaction (100 items) is
split by line; if a later part is refused, the parts already written are released again.
The first part also advances the order's ``allocation_round`` on a condition, so two
runs of the same step can never both allocate.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from functions.allocate.store import MAX_TRANSACTION_ITEMS, Reservation, alloc_sk, allocation_item, line_allocated_op
from functions.inventory.api import capacity_op, capacity_release_op, release_op, reserve_op
from shared.errors import Conflict
from shared.order import keys
from shared.order.state import HeaderUpdate
from shared.table import ConditionFailed, Item, Table

# Kept free in every transaction for the header update and the timeline event.
_RESERVED_SLOTS = 2


class StockMoved(Conflict):
    """A reservation's condition failed: someone took the units since the plan was made."""


class RoundTaken(Conflict):
    """Another run allocated this order first (a retried or duplicated step)."""


def _ops_for(
    order_id: str,
    part: list[Reservation],
    allocation_round: int,
    at: str,
    day: str,
    capacities: dict[str, int | None],
    new_locations: list[str],
    lines: dict[int, Item],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Operations of one part and, in the same order, what each one is (for refusals)."""
    ops: list[dict[str, Any]] = []
    kinds: list[str] = []
    per_stock: dict[tuple[str, str], int] = defaultdict(int)
    per_line: dict[int, int] = defaultdict(int)
    for r in part:
        per_stock[(r.sku, r.location_id)] += r.quantity
        per_line[r.line_position] += r.quantity
    for (sku, location_id), quantity in sorted(per_stock.items()):
        ops.append(reserve_op(sku, location_id, quantity))
        kinds.append("stock")
    for r in part:
        ops.append(
            {
                "Put": {
                    "Item": allocation_item(order_id, r, allocation_round, at),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        kinds.append("allocation")
    for position, quantity in sorted(per_line.items()):
        ops.append(line_allocated_op(order_id, position, quantity, lines[position]))
        kinds.append("line")
    for location_id in new_locations:
        ops.append(capacity_op(location_id, day, 1, capacities.get(location_id)))
        kinds.append("capacity")
    return ops, kinds


def first_appearances(parts: list[list[Reservation]]) -> list[list[str]]:
    """Per part, the locations it is the first to use: one shipment per location is counted
    against its daily capacity, however many parts the plan was split into."""
    seen: set[str] = set()
    firsts: list[list[str]] = []
    for part in parts:
        new = sorted({r.location_id for r in part} - seen)
        seen.update(new)
        firsts.append(new)
    return firsts


def split_parts(reservations: list[Reservation]) -> list[list[Reservation]]:
    """Parts of whole lines, each fitting one transaction with room for the header and event."""
    by_line: dict[int, list[Reservation]] = defaultdict(list)
    for r in reservations:
        by_line[r.line_position].append(r)
    parts: list[list[Reservation]] = []
    current: list[Reservation] = []

    def cost(rs: list[Reservation]) -> int:
        # stock updates + allocation items + line updates + capacity counters (upper bound)
        return (
            len({(r.sku, r.location_id) for r in rs})
            + len(rs)
            + len({r.line_position for r in rs})
            + len({r.location_id for r in rs})
        )

    for position in sorted(by_line):
        candidate = current + by_line[position]
        if current and cost(candidate) > MAX_TRANSACTION_ITEMS - _RESERVED_SLOTS:
            parts.append(current)
            candidate = by_line[position]
        current = candidate
    if current:
        parts.append(current)
    return parts


def advance_round(header: HeaderUpdate, current_round: int) -> HeaderUpdate:
    """The header write of an allocation round: taken only by the run that read the round before it."""
    header.set("allocation_round", current_round + 1)
    if current_round:
        return header.condition("allocation_round = :cur", {":cur": current_round})
    return header.condition("attribute_not_exists(allocation_round)")


def _lines_by_position(
    order_id: str, reservations: list[Reservation], lines: list[Item] | None, table: Table
) -> dict[int, Item]:
    if lines is None:
        positions = sorted({r.line_position for r in reservations})
        lines = table.batch_get(((keys.order_pk(order_id), keys.line_sk(p)) for p in positions), consistent=True)
    return {int(line["sk"].split("#")[1]): line for line in lines}


def commit(
    order_id: str,
    reservations: list[Reservation],
    *,
    current_round: int,
    at: str,
    day: str,
    capacities: dict[str, int | None],
    header: HeaderUpdate,
    closing_ops: list[dict[str, Any]],
    lines: list[Item] | None = None,
    table: Table | None = None,
) -> None:
    """Write every part; the first advances the round, the last changes the header and
    carries ``closing_ops`` (one operation per item: a single part does both at once).

    ``lines`` are the order lines as the plan read them (read here when not given): each
    line's ``allocated`` move is checked against them and pinned on their buckets.

    Raises StockMoved or RoundTaken after undoing whatever parts were written.
    """
    table = table or Table()
    by_position = _lines_by_position(order_id, reservations, lines, table)
    allocation_round = current_round + 1
    parts = split_parts(reservations) or [[]]
    firsts = first_appearances(parts)
    done: list[list[Reservation]] = []
    for index, part in enumerate(parts):
        ops, kinds = _ops_for(order_id, part, allocation_round, at, day, capacities, firsts[index], by_position)
        first, last = index == 0, index == len(parts) - 1
        if first:
            ops.append(advance_round(header if last else HeaderUpdate(order_id, at), current_round).op())
            kinds.append("round")
        elif last:
            ops.append(header.op())
            kinds.append("closing")
        if last:
            ops.extend(closing_ops)
            kinds.extend("closing" for _ in closing_ops)
        try:
            table.transact(ops)
        except ConditionFailed as err:
            release(order_id, [r for p in done for r in p], allocation_round, day, table=table)
            refused = {kinds[i] for i, reason in enumerate(err.reasons) if reason == "ConditionalCheckFailed"}
            if refused & {"round", "allocation"}:
                raise RoundTaken(f"order {order_id} was allocated by another run") from err
            raise StockMoved(f"stock for order {order_id} changed while it was being reserved") from err
        done.append(part)


def release(
    order_id: str,
    reservations: list[Reservation],
    allocation_round: int,
    day: str | None,
    *,
    table: Table | None = None,
) -> None:
    """Give back reservations of one round, deleting their allocation items."""
    table = table or Table()
    parts = split_parts(reservations)
    for part, new_locations in zip(parts, first_appearances(parts), strict=True):
        per_stock: dict[tuple[str, str], int] = defaultdict(int)
        per_line: dict[int, int] = defaultdict(int)
        for r in part:
            per_stock[(r.sku, r.location_id)] += r.quantity
            per_line[r.line_position] += r.quantity
        ops = [release_op(sku, loc, q) for (sku, loc), q in sorted(per_stock.items())]
        ops += [
            {
                "Delete": {
                    "Key": {
                        "pk": keys.order_pk(order_id),
                        "sk": alloc_sk(r.line_position, allocation_round, r.location_id),
                    }
                }
            }
            for r in part
        ]
        ops += [line_allocated_op(order_id, pos, -q) for pos, q in sorted(per_line.items())]
        if day:
            ops += [capacity_release_op(loc, day, 1) for loc in new_locations]
        table.transact(ops)
