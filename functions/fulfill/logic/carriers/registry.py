"""Which format each carrier webhook speaks.

A carrier is known when the integration secret holds a webhook secret for it. The named
formats below read their own payloads; any other configured carrier speaks the generic
format, so a new carrier needs a secret and no code.
"""

from __future__ import annotations

from functions.fulfill.logic.carriers import aftership, easypost, generic
from functions.fulfill.logic.carriers.model import CarrierFormat

FORMATS: dict[str, CarrierFormat] = {f.name: f for f in (easypost.FORMAT, aftership.FORMAT, generic.FORMAT)}


def carrier_format(carrier: str) -> CarrierFormat:
    return FORMATS.get(carrier, generic.FORMAT)


def sign(carrier: str, body: bytes | str, secret: str) -> dict[str, str]:
    """The signature headers ``carrier`` sends with ``body`` (tests, the demo, carrier sandboxes)."""
    raw = body.encode() if isinstance(body, str) else body
    return carrier_format(carrier).sign(raw, secret)
