"""Money in integer minor units, and exact proportional splitting."""

from __future__ import annotations

from collections.abc import Sequence


def split_largest_remainder(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` over ``weights`` proportionally; the parts add up to ``amount``.

    Hamilton's method: every part gets the floor of its exact share, then the units left
    over go one each to the largest remainders (ties to the earlier position, so the result
    is deterministic). Zero total weight splits evenly. Negative inputs are refused.
    """
    if amount < 0:
        raise ValueError("amount must be >= 0")
    if any(w < 0 for w in weights):
        raise ValueError("weights must be >= 0")
    n = len(weights)
    if n == 0:
        if amount:
            raise ValueError("cannot split a non-zero amount over nothing")
        return []
    total = sum(weights)
    if total == 0:
        weights = [1] * n
        total = n
    parts = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(parts)
    order = sorted(range(n), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        parts[i] += 1
    return parts


# ISO 4217 codes accepted for orders, with their minor-unit exponent.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2,
    "AUD": 2,
    "BGN": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CLP": 0,
    "CNY": 2,
    "COP": 2,
    "CZK": 2,
    "DKK": 2,
    "EGP": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MAD": 2,
    "MXN": 2,
    "MYR": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PHP": 2,
    "PLN": 2,
    "QAR": 2,
    "RON": 2,
    "SAR": 2,
    "SEK": 2,
    "SGD": 2,
    "THB": 2,
    "TND": 3,
    "TRY": 2,
    "TWD": 2,
    "UAH": 2,
    "USD": 2,
    "VND": 0,
    "ZAR": 2,
}
