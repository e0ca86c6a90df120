"""Availability: what can be promised per SKU, per location and per location group."""

from __future__ import annotations

from collections.abc import Iterable

from functions.inventory.logic.access import may_see_location
from functions.inventory.logic.models import (
    MAX_AVAILABILITY_SKUS,
    AvailabilityView,
    LocationStock,
    SkuAvailability,
    StockFigures,
)
from functions.inventory.store import Location, StockRecord, list_locations, stock_for_skus
from shared.api.caller import Caller
from shared.errors import InvalidInput, NotFound


def _add(total: StockFigures, record: StockRecord) -> None:
    total.on_hand += record.on_hand
    total.reserved += record.reserved
    total.safety_stock += record.safety_stock
    total.available += record.available_to_promise


def summarize(sku: str, records: dict[str, StockRecord], locations: Iterable[Location]) -> SkuAvailability:
    """Pure: per-location figures (available clamped at 0), and totals over active locations.

    Stock at a location not in ``locations`` (unknown, or hidden from the caller) is left out.
    """
    rows: list[LocationStock] = []
    groups: dict[str, StockFigures] = {}
    promise = 0
    for location in sorted(locations, key=lambda loc: loc.location_id):
        record = records.get(location.location_id)
        if record is None:
            continue
        rows.append(
            LocationStock(
                location_id=location.location_id,
                active=location.active,
                on_hand=record.on_hand,
                reserved=record.reserved,
                safety_stock=record.safety_stock,
                available=record.available_to_promise,
            )
        )
        if not location.active:
            continue
        promise += record.available_to_promise
        for group in location.groups:
            _add(groups.setdefault(group, StockFigures()), record)
    return SkuAvailability(sku=sku, available_to_promise=promise, locations=rows, groups=dict(sorted(groups.items())))


def _select(caller: Caller, location_ids: list[str] | None, groups: list[str] | None) -> list[Location]:
    visible = {loc.location_id: loc for loc in list_locations() if may_see_location(caller, loc)}
    if location_ids:
        unknown = sorted(set(location_ids) - visible.keys())
        if unknown:
            raise NotFound(
                f"no location {', '.join(unknown)}",
                errors=[{"field": "location_id", "message": f"unknown: {', '.join(unknown)}"}],
            )
        visible = {i: visible[i] for i in location_ids}
    if groups:
        visible = {i: loc for i, loc in visible.items() if set(groups) & set(loc.groups)}
    return list(visible.values())


def availability(
    caller: Caller, skus: list[str], *, location_ids: list[str] | None = None, groups: list[str] | None = None
) -> AvailabilityView:
    caller.require("channel", "wms", "agent", "ops")
    unique = list(dict.fromkeys(skus))
    if not unique or len(unique) > MAX_AVAILABILITY_SKUS:
        raise InvalidInput(
            f"ask for 1 to {MAX_AVAILABILITY_SKUS} SKUs per call",
            errors=[{"field": "sku", "message": f"1 to {MAX_AVAILABILITY_SKUS} values"}],
        )
    locations = _select(caller, location_ids, groups)
    stock = stock_for_skus(unique, {loc.location_id for loc in locations}) if locations else {}
    return AvailabilityView(items=[summarize(sku, stock.get(sku, {}), locations) for sku in unique])
