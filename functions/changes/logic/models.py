"""Request bodies of the change-order endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LineId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CancelLineIn(_Model):
    line_id: LineId
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]


class CancelRequest(_Model):
    lines: Annotated[list[CancelLineIn], Field(min_length=1, max_length=2000)] | None = None
    reason: Reason


class AdjustmentLineIn(_Model):
    line_id: LineId
    amount: Annotated[int, Field(ge=1, le=100_000_000_000)] | None = None


class AdjustmentRequest(_Model):
    lines: Annotated[list[AdjustmentLineIn], Field(min_length=1, max_length=2000)] | None = None
    amount: Annotated[int, Field(ge=1, le=100_000_000_000)]
    reason: Reason
