"""Customer messages: one email template per domain event kind.

Each template takes the order header and the event's detail and gives a subject, a
plain-text body and a simple HTML body (every value escaped). Kinds without a template
send nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

# Tracking pages by carrier (normalized: lower case, letters and digits only).
TRACKING_URLS: dict[str, str] = {
    "ups": "https://www.ups.com/track?tracknum={number}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?tracking-id={number}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{number}",
    "gls": "https://gls-group.com/track/{number}",
}
# Any other carrier: a multi-carrier tracking page.
GENERIC_TRACKING_URL = "https://track.aftership.com/{number}"

# ISO 4217 minor unit digits where they are not 2.
_MINOR_DIGITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"), 0),
    **dict.fromkeys(("VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str


def tracking_url(carrier: str | None, tracking_number: str) -> str:
    name = re.sub(r"[^a-z0-9]", "", (carrier or "").lower())
    pattern = TRACKING_URLS.get(name) or next(
        (url for key, url in TRACKING_URLS.items() if name.startswith(key)), GENERIC_TRACKING_URL
    )
    return pattern.format(number=quote(tracking_number, safe=""))


def money(amount: int, currency: str) -> str:
    """Minor units as the customer reads them: ``1234, "EUR"`` -> ``12.34 EUR``."""
    digits = _MINOR_DIGITS.get(currency.upper(), 2)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    return f"{sign}{major}.{minor:0{digits}d} {currency}" if digits else f"{sign}{major} {currency}"


@dataclass(frozen=True)
class _Context:
    name: str
    reference: str
    total: str
    detail: Mapping[str, Any]

    @property
    def tracking(self) -> tuple[str, str, str] | None:
        number = str(self.detail.get("tracking_number") or "")
        if not number:
            return None
        carrier = str(self.detail.get("carrier") or "")
        url = str(self.detail.get("tracking_url") or "") or tracking_url(carrier, number)
        return carrier or "the carrier", number, url


def _page(greeting: str, paragraphs: list[str], link: tuple[str, str] | None = None) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if link:
        body += f'<p><a href="{html.escape(link[1], quote=True)}">{html.escape(link[0])}</a></p>'
    return (
        '<!doctype html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif"><p>{html.escape(greeting)}</p>{body}</body></html>'
    )


def _compose(ctx: _Context, subject: str, paragraphs: list[str], with_tracking: bool = False) -> Message:
    greeting = f"Hello {ctx.name}," if ctx.name else "Hello,"
    lines = list(paragraphs)
    link = None
    if with_tracking and ctx.tracking:
        carrier, number, url = ctx.tracking
        lines.append(f"Tracking number {number} with {carrier}.")
        link = ("Track your parcel", url)
    text = "\n\n".join([greeting, *lines, *([f"Track your parcel: {link[1]}"] if link else [])]) + "\n"
    return Message(subject=subject, text=text, html=_page(greeting, lines, link))


def _confirmed(ctx: _Context) -> Message:
    return _compose(
        ctx,
        f"Your order {ctx.reference} is confirmed",
        [f"Thank you for your order {ctx.reference}. We are preparing it now.", f"Order total: {ctx.total}."],
    )


def _shipped(ctx: _Context) -> Message:
    return _compose(
        ctx,
        f"Your order {ctx.reference} is on its way",
        [f"A parcel of your order {ctx.reference} has left our warehouse."],
        with_tracking=True,
    )


def _delivered(ctx: _Context) -> Message:
    return _compose(
        ctx,
        f"Your order {ctx.reference} has been delivered",
        [f"A parcel of your order {ctx.reference} has been delivered. We hope you enjoy it."],
    )


def _delayed(ctx: _Context) -> Message:
    reason = str(ctx.detail.get("description") or "").strip()
    paragraphs = [f"A parcel of your order {ctx.reference} is delayed."]
    if reason:
        paragraphs.append(f"The carrier reports: {reason}")
    paragraphs.append("We are on it and will keep you posted.")
    return _compose(ctx, f"Your order {ctx.reference} is delayed", paragraphs, with_tracking=True)


def _ready_for_pickup(ctx: _Context) -> Message:
    code = str(ctx.detail.get("pickup_code") or "")
    shown = f"{code[:4]}-{code[4:]}" if len(code) == 8 else code
    paragraphs = [
        f"Your order {ctx.reference} is ready for pickup at the store.",
        f"Your pickup code: {shown}. Show it at the counter; keep it to yourself.",
    ]
    until = str(ctx.detail.get("no_show_at") or "")[:10]
    if until:
        paragraphs.append(f"We keep it for you until {until}; after that the order is cancelled and refunded.")
    return _compose(ctx, f"Your order {ctx.reference} is ready for pickup", paragraphs)


TEMPLATES: dict[str, Callable[[_Context], Message]] = {
    "order.confirmed": _confirmed,
    "shipment.shipped": _shipped,
    "shipment.delivered": _delivered,
    "shipment.delayed": _delayed,
    "fulfillment.ready_for_pickup": _ready_for_pickup,
}


def render(kind: str, header: Mapping[str, Any], detail: Mapping[str, Any]) -> Message | None:
    """The message for an event of ``kind`` about the order ``header``; None when there is none."""
    template = TEMPLATES.get(kind)
    if template is None:
        return None
    customer = header.get("customer") or {}
    totals = header.get("totals") or {}
    ctx = _Context(
        name=str(customer.get("name") or "").strip(),
        reference=str(header.get("external_id") or header["order_id"]),
        total=money(int(totals.get("total", 0)), str(header.get("currency") or "")),
        detail=detail,
    )
    return template(ctx)
