"""Request bodies of the returns endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.api.validation import Id, NoControlChars, Sku, distinct

LineId = Annotated[str, StringConstraints(min_length=1, max_length=64), NoControlChars]
Quantity = Annotated[int, Field(ge=1, le=1_000_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ReturnLineIn(_Model):
    line_id: LineId
    quantity: Quantity
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoControlChars]


class ExchangeLineIn(_Model):
    sku: Sku
    quantity: Quantity
    unit_price: Annotated[int, Field(ge=0, le=100_000_000_000)] | None = None


class ReturnRequest(_Model):
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=500, description="each line_id once")]
    exchange: Annotated[list[ExchangeLineIn], Field(max_length=50)] = []

    @field_validator("lines")
    @classmethod
    def _lines_distinct(cls, lines: list[ReturnLineIn]) -> list[ReturnLineIn]:
        distinct([line.line_id for line in lines])
        return lines


class ReceiptLineIn(_Model):
    line_id: LineId
    quantity: Quantity
    condition: Literal["resellable", "damaged"]


class ReceiptRequest(_Model):
    location_id: Id
    lines: Annotated[
        list[ReceiptLineIn],
        Field(min_length=1, max_length=500, description="each line_id once per condition"),
    ]

    @field_validator("lines")
    @classmethod
    def _lines_distinct(cls, lines: list[ReceiptLineIn]) -> list[ReceiptLineIn]:
        # A line's units may arrive part resellable, part damaged: one entry per condition.
        distinct([(line.line_id, line.condition) for line in lines])
        return lines
