"""Request bodies of the change-order endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.api.validation import NoControlChars, Text, distinct

Reason = Text
LineId = Annotated[str, StringConstraints(min_length=1, max_length=64), NoControlChars]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CancelLineIn(_Model):
    line_id: LineId
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]


def _distinct_lines(lines: list[CancelLineIn] | list[AdjustmentLineIn] | None) -> None:
    if lines is not None:
        distinct([line.line_id for line in lines])


class CancelRequest(_Model):
    lines: Annotated[list[CancelLineIn], Field(min_length=1, max_length=2000)] | None = Field(
        default=None, description="each line_id at most once"
    )
    reason: Reason

    @field_validator("lines")
    @classmethod
    def _lines_distinct(cls, lines: list[CancelLineIn] | None) -> list[CancelLineIn] | None:
        _distinct_lines(lines)
        return lines


class AdjustmentLineIn(_Model):
    line_id: LineId
    amount: Annotated[int, Field(ge=1, le=100_000_000_000)] | None = None


class AdjustmentRequest(_Model):
    lines: Annotated[list[AdjustmentLineIn], Field(min_length=1, max_length=2000)] | None = Field(
        default=None, description="each line_id at most once"
    )
    amount: Annotated[int, Field(ge=1, le=100_000_000_000)]
    reason: Reason

    @field_validator("lines")
    @classmethod
    def _lines_distinct(cls, lines: list[AdjustmentLineIn] | None) -> list[AdjustmentLineIn] | None:
        _distinct_lines(lines)
        return lines
