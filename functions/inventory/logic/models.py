"""Request and response bodies of the inventory API (docs/api.md, Inventory and locations)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.inventory.store import MAX_BUCKETS, Location, LocationId, StockRecord
from shared.api.validation import PastTime, Sku, Text

Units = Annotated[int, Field(strict=True, ge=0, le=1_000_000_000)]
Delta = Annotated[int, Field(strict=True, ge=-1_000_000_000, le=1_000_000_000)]
Reason = Text

MAX_AVAILABILITY_SKUS = 100
MAX_IMPORT_ROWS = 10_000
# A stock row is about 150 bytes; the bound keeps a 50-row queue message far below SQS's limit.
MAX_IMPORT_ROW_BYTES = 1_000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StockIn(_Model):
    """Absolute stock of one SKU at one location, as the WMS or ERP counted it at ``as_of``."""

    on_hand: Units
    safety_stock: Units | None = Field(default=None, description="omitted: the stored one is kept")
    as_of: PastTime = Field(description="when counted, with its offset; not ahead of the server's clock")


class BucketsIn(_Model):
    """How many items hold a hot SKU's stock at one location (1: one item, the default)."""

    buckets: Annotated[int, Field(strict=True, ge=1, le=MAX_BUCKETS)] = Field(
        description="each item takes about 500 reservations a second"
    )


class AdjustmentIn(_Model):
    location_id: LocationId
    sku: Sku
    delta: Delta = Field(description="units added (positive) or removed (negative); not 0")
    reason: Reason


class StockView(BaseModel):
    location_id: str
    sku: str
    on_hand: int
    reserved: int
    safety_stock: int
    available: int = Field(description="on_hand - reserved - safety_stock, never below 0")
    as_of: str | None
    updated_at: str | None
    applied: bool = Field(description="false when an absolute update was older than the stored as_of")
    buckets: int = Field(default=1, description="items the stock is split into (figures are their sums)")

    @classmethod
    def of(cls, record: StockRecord) -> StockView:
        return cls(
            location_id=record.location_id,
            sku=record.sku,
            on_hand=record.on_hand,
            reserved=record.reserved,
            safety_stock=record.safety_stock,
            available=record.available_to_promise,
            as_of=record.as_of,
            updated_at=record.updated_at,
            applied=record.applied,
            buckets=record.buckets,
        )


class LocationPage(BaseModel):
    items: list[Location]
    next_cursor: str | None


class StockFigures(BaseModel):
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    available: int = Field(default=0, description="never below 0")


class LocationStock(StockFigures):
    location_id: str
    active: bool


class SkuAvailability(BaseModel):
    sku: str
    available_to_promise: int = Field(description="sum of available over active locations")
    locations: list[LocationStock]
    groups: dict[str, StockFigures] = Field(description="totals over the active locations of each group")


class AvailabilityView(BaseModel):
    items: list[SkuAvailability]


class ImportIn(_Model):
    """Stock rows; each is checked on its own when applied, so one bad row fails alone."""

    rows: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_IMPORT_ROWS)] = Field(
        description="each {location_id, sku, on_hand, safety_stock?, as_of}"
    )

    @field_validator("rows")
    @classmethod
    def _rows_are_small(cls, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for position, row in enumerate(rows, start=1):
            if len(json.dumps(row, separators=(",", ":"))) > MAX_IMPORT_ROW_BYTES:
                raise ValueError(f"row {position} is larger than {MAX_IMPORT_ROW_BYTES} bytes")
        return rows


class StockRow(_Model):
    location_id: LocationId
    sku: Sku
    on_hand: Units
    safety_stock: Units | None = None
    as_of: PastTime


class ImportCounts(BaseModel):
    rows: int
    applied: int = 0
    ignored_stale: int = 0
    failed: int = 0


class FailedRow(BaseModel):
    row: int = Field(description="1-based position in the request's rows")
    location_id: str | None = None
    sku: str | None = None
    reason: str


class ImportView(BaseModel):
    import_id: str
    status: Literal["pending", "completed"]
    counts: ImportCounts
    failed_rows: list[FailedRow] = Field(description="a page of the failed rows, by position")
    next_cursor: str | None = None
    created_at: str
