"""Stock through the API: absolute counts from a WMS or ERP, and relative adjustments."""

from __future__ import annotations

from functions.inventory.logic.access import authorize_stock_write
from functions.inventory.logic.locations import visible_location
from functions.inventory.logic.models import AdjustmentIn, BucketsIn, StockIn, StockView
from functions.inventory.store import adjust_stock, set_buckets, set_stock
from shared.api.caller import Caller


def put_stock(caller: Caller, location_id: str, sku: str, body: StockIn) -> StockView:
    """Set the stock; an update not newer than the stored ``as_of`` is ignored (``applied`` false)."""
    authorize_stock_write(caller, location_id)
    visible_location(caller, location_id)
    record = set_stock(location_id, sku, body.on_hand, body.safety_stock, body.as_of)
    return StockView.of(record)


def adjust(caller: Caller, body: AdjustmentIn) -> StockView:
    """Add or remove units; removing more than is on hand is a conflict (409)."""
    authorize_stock_write(caller, body.location_id)
    visible_location(caller, body.location_id)
    return StockView.of(adjust_stock(body.location_id, body.sku, body.delta, body.reason))


def split_stock(caller: Caller, location_id: str, sku: str, body: BucketsIn) -> StockView:
    """Split a hot SKU's stock at a location into ``buckets`` items (1 joins them): an
    operator's decision before a flash sale, not the warehouse's."""
    caller.require("ops")
    visible_location(caller, location_id)
    return StockView.of(set_buckets(sku, location_id, body.buckets))
