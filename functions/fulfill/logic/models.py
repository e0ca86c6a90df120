"""Requests of the fulfillment API, as a WMS sends them (docs/api.md, Fulfillment)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.api.validation import NoControlChars

MAX_LINES = 2000

Quantity = Annotated[int, Field(strict=True, ge=1, le=100_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineQuantity(_Model):
    line_id: Annotated[str, StringConstraints(min_length=1, max_length=64), NoControlChars]
    quantity: Quantity


def _distinct(lines: list[LineQuantity] | None) -> None:
    if lines is not None and len({line.line_id for line in lines}) != len(lines):
        raise ValueError("each line_id at most once")


class ShipRequest(_Model):
    carrier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoControlChars]
    tracking_number: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    lines: Annotated[list[LineQuantity], Field(min_length=1, max_length=MAX_LINES)] | None = Field(
        default=None, description="what ships; none ships every open unit"
    )

    @model_validator(mode="after")
    def _lines_distinct(self) -> ShipRequest:
        _distinct(self.lines)
        return self


class RejectRequest(_Model):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), NoControlChars]
    lines: Annotated[list[LineQuantity], Field(min_length=1, max_length=MAX_LINES)] | None = Field(
        default=None, description="what the location cannot ship; none rejects every open unit"
    )

    @model_validator(mode="after")
    def _lines_distinct(self) -> RejectRequest:
        _distinct(self.lines)
        return self


class ReadyForPickupRequest(_Model):
    reissue_code: bool = Field(
        default=False,
        description="issue a new code (the customer lost theirs, or too many wrong codes): the old one stops working",
    )


class PickedUpRequest(_Model):
    pickup_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=4, max_length=32), NoControlChars
    ] = Field(description="the code the customer shows (case, spaces and dashes do not matter)")
