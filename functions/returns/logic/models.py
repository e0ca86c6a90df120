"""Request bodies of the returns endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

LineId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Quantity = Annotated[int, Field(ge=1, le=1_000_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ReturnLineIn(_Model):
    line_id: LineId
    quantity: Quantity
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ExchangeLineIn(_Model):
    sku: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")]
    quantity: Quantity
    unit_price: Annotated[int, Field(ge=0, le=100_000_000_000)] | None = None


class ReturnRequest(_Model):
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=500)]
    exchange: Annotated[list[ExchangeLineIn], Field(max_length=50)] = []


class ReceiptLineIn(_Model):
    line_id: LineId
    quantity: Quantity
    condition: Literal["resellable", "damaged"]


class ReceiptRequest(_Model):
    location_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    lines: Annotated[list[ReceiptLineIn], Field(min_length=1, max_length=500)]
