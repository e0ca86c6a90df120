"""Request bodies of the change-order endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.api.validation import Address, Id, NoControlChars, Sku, Text, distinct

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


# --- order edits (POST /v1/orders/{order_id}/edits) ------------------------------------

EditQuantity = Annotated[int, Field(ge=1, le=100_000)]
Money = Annotated[int, Field(ge=0, le=100_000_000_000)]
MAX_EDIT_LINES = 30  # one edit is one transaction: each line moves its buckets, allocations and stock


class EditShipping(_Model):
    address: Address | None = None
    method: Literal["standard", "express", "pickup"] | None = None
    pickup_location_id: Id | None = None
    amount: Money | None = Field(default=None, description="the order's shipping amount; it cannot change by an edit")

    @model_validator(mode="after")
    def _something(self) -> EditShipping:
        if self.address is None and self.method is None and self.amount is None:
            raise ValueError("name the address, the method or both")
        if self.method == "pickup" and not self.pickup_location_id:
            raise ValueError("pickup orders need pickup_location_id")
        if self.method not in (None, "pickup") and self.pickup_location_id:
            raise ValueError("pickup_location_id is only for pickup orders")
        return self


class EditLineIn(_Model):
    line_id: LineId
    quantity: Annotated[int, Field(ge=0, le=100_000)] = Field(description="the line's new quantity (0 removes it)")


class EditAddIn(_Model):
    sku: Sku
    quantity: EditQuantity
    unit_price: Money
    tax: Money = 0


class EditSwapIn(_Model):
    line_id: LineId
    sku: Sku
    quantity: EditQuantity | None = Field(default=None, description="units swapped (default: all not yet released)")
    unit_price: Money | None = Field(default=None, description="default: the line's unit price")
    tax: Money | None = Field(default=None, description="default: the line's tax rate")


class EditRequest(_Model):
    shipping: EditShipping | None = None
    lines: Annotated[list[EditLineIn], Field(min_length=1, max_length=MAX_EDIT_LINES)] | None = None
    add: Annotated[list[EditAddIn], Field(min_length=1, max_length=MAX_EDIT_LINES)] | None = None
    swap: Annotated[list[EditSwapIn], Field(min_length=1, max_length=MAX_EDIT_LINES)] | None = None
    reason: Reason

    @model_validator(mode="after")
    def _one_change_per_line(self) -> EditRequest:
        if self.shipping is None and not self.lines and not self.add and not self.swap:
            raise ValueError("an edit names shipping, lines, add or swap")
        named = [line.line_id for line in self.lines or []] + [s.line_id for s in self.swap or []]
        distinct(named)
        if len(named) + len(self.add or []) > MAX_EDIT_LINES:
            raise ValueError(f"at most {MAX_EDIT_LINES} lines per edit")
        return self
