"""Opaque, prefixed, roughly time-ordered ids (``ord_01J...``)."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case

PREFIXES = frozenset(
    {"ord", "ln", "fo", "shp", "pay", "inv", "cm", "ret", "chg", "exc", "cus", "evt", "imp", "whs", "hld"}
)


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    """A ULID-shaped id: 48 bits of milliseconds then 80 random bits."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_b32(millis, 10)}{_b32(rand, 16)}"


_BODY = 26  # a ULID-shaped id's characters after its prefix
_CHILD_RANDOM = 6  # 30 random bits: unique among one parent's children
_BODY_CHARACTERS = frozenset(_ALPHABET)


def child_id(prefix: str, parent_id: str) -> str:
    """An id that names its parent: ``<prefix>_<the parent's 26 characters><6 random>``.

    A reader finds the parent (whose partition holds the child) from the id alone, with no
    index between them; ``parent_of`` reads it back. A parent id of another shape gets an
    ordinary ``new_id``, which readers look up as before."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    _, _, body = parent_id.partition("_")
    if len(body) != _BODY or not _BODY_CHARACTERS.issuperset(body):
        return new_id(prefix)
    return f"{prefix}_{body}{_b32(int.from_bytes(os.urandom(4), 'big'), _CHILD_RANDOM)}"


def parent_of(child: str, parent_prefix: str) -> str | None:
    """The parent a ``child_id`` names (None for any other id)."""
    _, _, body = child.partition("_")
    if len(body) != _BODY + _CHILD_RANDOM or not _BODY_CHARACTERS.issuperset(body):
        return None
    return f"{parent_prefix}_{body[:_BODY]}"
