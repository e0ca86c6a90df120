"""Pickup codes: derived, never stored; only their hash is kept with the fulfillment order.

A code is an HMAC of the fulfillment order and the code's issue number under the
``pickup.code_key`` integration secret, so the e-mail step can derive the very code the
store will be shown while the table holds nothing a reader could hand over at the counter.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# 32 letters and digits without the look-alikes (I, O, 0, 1): 8 of them are 40 bits.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def derive_code(key: bytes, fo_id: str, issue: int) -> str:
    digest = hmac.new(key, f"pickup-code:{fo_id}:{issue}".encode(), hashlib.sha256).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:CODE_LENGTH])


def normalize(code: str) -> str:
    """What a clerk types: case, spaces and dashes do not matter."""
    return re.sub(r"[\s-]", "", code).upper()


def code_hash(fo_id: str, code: str) -> str:
    return hashlib.sha256(f"{fo_id}:{normalize(code)}".encode()).hexdigest()


def code_matches(stored_hash: str, fo_id: str, offered: str) -> bool:
    """Constant-time: the time taken says nothing about how much of the code was right."""
    return hmac.compare_digest(stored_hash.encode(), code_hash(fo_id, offered).encode())


def display(code: str) -> str:
    """``ABCD-EFGH``: easier to read out at the counter."""
    return f"{code[:4]}-{code[4:]}"


def seconds_to_no_show(fo: Mapping[str, Any], moment: datetime) -> int:
    """What the workflow's pickup wait has left of ``no_show_at`` (a timer takes whole seconds, at least one)."""
    deadline = datetime.fromisoformat(str(fo["no_show_at"]).replace("Z", "+00:00"))
    return max(1, math.ceil((deadline - moment).total_seconds()))
