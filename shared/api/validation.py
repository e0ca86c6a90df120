"""The validators every request model shares: clean text, ids, strict numbers, times not ahead of us.

Each is a pydantic ``Annotated`` type, so a violation is a 422 naming the field, and the
constraint shows in the OpenAPI document where JSON Schema can say it.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar
from urllib.parse import unquote

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from shared.errors import InvalidInput
from shared.settings import get_settings

# C0 and C1 control characters (NUL, ESC, ...) and the bidirectional embeddings, overrides and
# isolates (U+202A-U+202E, U+2066-U+2069) that make text display other than it reads.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# SKUs may hold a slash (``TEE/M``): in a path it arrives percent-encoded, once.
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"
GROUP_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


def _clean(value: str) -> str:
    if _UNSAFE_CHARS.search(value):
        raise ValueError("control and bidirectional-override characters are not allowed")
    return value


# Any text a person reads (names, reasons, notes, codes): no control or bidi characters. It goes
# after the bounds (``Annotated[str, StringConstraints(...), NoControlChars]``), which then apply
# to the trimmed text.
NoControlChars = AfterValidator(_clean)
# The usual free-text field: trimmed, 1 to 200 characters.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoControlChars]


Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
GroupName = Annotated[str, StringConstraints(pattern=GROUP_PATTERN)]

# JSON numbers and booleans as they are: no "5" for 5, no 0 for false, no true for 1.
StrictInt = Annotated[int, Field(strict=True)]
StrictBool = Annotated[bool, Field(strict=True)]
StrictFloat = Annotated[float, Field(strict=True)]

T = TypeVar("T", bound=Hashable)


def distinct(values: Sequence[T] | None) -> Sequence[T] | None:
    """A list that stands for a set: each value at most once."""
    if values is not None and len(set(values)) != len(values):
        raise ValueError("each value at most once")
    return values


def max_future() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=get_settings().max_clock_skew_seconds)


def not_in_future(moment: datetime) -> datetime:
    """A time the sender observed cannot lie ahead of our clock (beyond the allowed skew): a count
    dated in the year 9999 would otherwise outrank every real one after it."""
    if moment > max_future():
        raise ValueError("must not be in the future")
    return moment


def _time_text(value: object) -> object:
    # Pydantic would read 0 or true as seconds since 1970: a time comes as ISO 8601 text.
    if not isinstance(value, str | datetime):
        raise ValueError("an ISO 8601 time with its offset is required")
    return value


# An ISO 8601 time with its offset that has already happened.
PastTime = Annotated[AwareDatetime, BeforeValidator(_time_text), AfterValidator(not_in_future)]


def path_id(field: str, raw: str, pattern: str = ID_PATTERN) -> str:
    """A path parameter decoded exactly once: what is left must match the id's pattern.

    The resolver hands over the segment as it was in the URL; API Gateway's single decoding
    happens here. A ``%`` left after it (``TEE%252FM``) was encoded twice and is refused."""
    try:
        value = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        value = raw  # not UTF-8 once decoded: the pattern refuses the raw form's "%"
    if not re.fullmatch(pattern, value):
        raise InvalidInput(
            f"invalid fields: {field}",
            errors=[{"field": field, "message": f"must match {pattern} after percent-decoding"}],
        )
    return value


def distinct_param(field: str, values: Sequence[T] | None) -> None:
    """A repeated query parameter that stands for a set: 422 naming it when a value repeats."""
    if values is not None and len(set(values)) != len(values):
        raise InvalidInput(f"invalid fields: {field}", errors=[{"field": field, "message": "each value at most once"}])


class Address(BaseModel):
    """A postal address, as orders are captured and edited with it."""

    model_config = ConfigDict(extra="forbid")

    line1: Text
    line2: Text | None = None
    city: Text
    region: Text | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), NoControlChars]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(description="ISO 3166-1 alpha-2")
    lat: Annotated[StrictFloat, Field(ge=-90, le=90)] | None = None
    lon: Annotated[StrictFloat, Field(ge=-180, le=180)] | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Address:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self
