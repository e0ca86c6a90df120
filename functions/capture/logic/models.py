"""The order capture request, as channels send it (docs/api.md, Orders)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.api.validation import Address, Id, NoControlChars, Sku, Text
from shared.money import CURRENCY_EXPONENTS

# Strict: "3" or 3.0 is not a quantity, and true is not 1.
Quantity = Annotated[int, Field(strict=True, ge=1, le=100_000)]
Amount = Annotated[int, Field(strict=True, ge=0, le=100_000_000_000)]

MAX_LINES = 2000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(_Model):
    id: Annotated[str, StringConstraints(pattern=r"^cus_[A-Za-z0-9]{1,40}$")] | None = None
    email: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    ]
    name: Text
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()./-]{4,32}$")] | None = None
    # The channel's own id of its customer, kept on the order (matching stays by e-mail).
    channel_customer_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None
    ) = None


class LineIn(_Model):
    sku: Sku
    quantity: Quantity
    unit_price: Amount
    discount: Amount = 0
    tax: Amount = 0

    @model_validator(mode="after")
    def _discount_within_price(self) -> LineIn:
        if self.discount > self.quantity * self.unit_price:
            raise ValueError("discount exceeds quantity x unit_price")
        return self


class ShippingIn(_Model):
    address: Address
    method: Literal["standard", "express", "pickup"]
    amount: Amount
    pickup_location_id: Id | None = None

    @model_validator(mode="after")
    def _pickup_needs_location(self) -> ShippingIn:
        if self.method == "pickup" and not self.pickup_location_id:
            raise ValueError("pickup orders need pickup_location_id")
        if self.method != "pickup" and self.pickup_location_id:
            raise ValueError("pickup_location_id is only for pickup orders")
        return self


class PromotionIn(_Model):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoControlChars]
    amount: Annotated[int, Field(strict=True, ge=1, le=100_000_000_000)]


class PaymentIn(_Model):
    provider: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
    token: Annotated[str, StringConstraints(min_length=1, max_length=255), NoControlChars]


class OrderRequest(_Model):
    channel: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NoControlChars]
    customer: CustomerIn
    currency: str = Field(description="ISO 4217 code")
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]
    shipping: ShippingIn
    promotions: Annotated[list[PromotionIn], Field(max_length=20)] = []
    payment: PaymentIn
    # Where the payment's bill goes (the fraud screening compares its country with shipping's).
    billing_address: Address | None = None
    # When the customer placed it, for orders imported from a channel's history (ISO 8601
    # with a zone, not in the future); absent: the capture time.
    placed_at: AwareDatetime | None = None

    @field_validator("placed_at")
    @classmethod
    def _not_in_future(cls, value: AwareDatetime | None) -> AwareDatetime | None:
        if value is not None and value > datetime.now(UTC) + timedelta(minutes=5):
            raise ValueError("placed_at is in the future")
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCY_EXPONENTS:
            raise ValueError("not a supported ISO 4217 currency code")
        return value

    @model_validator(mode="after")
    def _promotions_within_order(self) -> OrderRequest:
        net = sum(line.quantity * line.unit_price - line.discount for line in self.lines)
        if sum(p.amount for p in self.promotions) > net:
            raise ValueError("promotions exceed the order's discounted subtotal")
        codes = [p.code for p in self.promotions]
        if len(codes) != len(set(codes)):
            raise ValueError("a promotion code appears twice")
        return self
