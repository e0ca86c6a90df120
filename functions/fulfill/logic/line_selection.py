"""Which units of a fulfillment order a ship or reject names, and how they fit in transactions."""

from __future__ import annotations

from typing import Any

from functions.allocate.api import held
from functions.fulfill.logic.fulfillment_orders import wrong_status
from functions.fulfill.logic.models import LineQuantity
from functions.fulfill.rules.status import is_terminal, open_units
from shared.errors import Conflict, InvalidInput
from shared.table import TRANSACTION_LIMIT, Item

Selection = list[tuple[dict[str, Any], int]]


def selected_units(fo: Item, lines: list[LineQuantity] | None, action: str) -> Selection:
    """(fulfillment order line, units) in line order: the lines named, or every open unit.

    An unknown line is 422; more than a line has open is 409, as is a closed order.
    """
    if is_terminal(fo):
        raise wrong_status(fo, action)
    by_id = {line["line_id"]: line for line in fo["lines"]}
    if lines is None:
        chosen = [(line, open_units(line)) for line in by_id.values() if open_units(line) > 0]
    else:
        unknown = [
            {"field": f"lines.{i}.line_id", "message": "not a line of this fulfillment order"}
            for i, line in enumerate(lines)
            if line.line_id not in by_id
        ]
        if unknown:
            raise InvalidInput("lines name units this fulfillment order does not hold", errors=unknown)
        chosen = [(by_id[line.line_id], line.quantity) for line in lines]
        too_many = [
            {"field": f"lines.{i}.quantity", "message": f"only {open_units(fo_line)} open"}
            for i, (fo_line, quantity) in enumerate(chosen)
            if quantity > open_units(fo_line)
        ]
        if too_many:
            raise Conflict(f"more units than are open on fulfillment order {fo['fo_id']}", errors=too_many)
    if not chosen:
        raise wrong_status(fo, action)
    return sorted(chosen, key=lambda pair: int(pair[0]["position"]))


def transaction_parts(chosen: Selection, allocations: list[Item], fixed: int) -> list[Selection]:
    """Parts of whole lines that each fit one transaction next to ``fixed`` other items
    (per line: its order line, its allocation items and at most one stock item)."""
    per_line: dict[str, int] = {}
    for alloc in allocations:
        if alloc.get("status") == "reserved" and held(alloc) > 0:
            per_line[alloc["line_id"]] = per_line.get(alloc["line_id"], 0) + 1
    parts: list[Selection] = []
    current: Selection = []
    size = fixed
    for fo_line, units in chosen:
        cost = 2 + per_line.get(fo_line["line_id"], 1)
        if current and size + cost > TRANSACTION_LIMIT:
            parts.append(current)
            current, size = [], fixed
        current.append((fo_line, units))
        size += cost
    if current:
        parts.append(current)
    return parts
