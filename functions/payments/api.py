"""What other domains (and the order view) use of payments; nothing else of it is imported outside."""

from __future__ import annotations

# Money moves a change order asks for, keyed by the change.
from functions.payments.logic.refund import refund
from functions.payments.logic.release import release_authorized_funds

# Ledger figures of one payment.
from functions.payments.rules.ledger import open_amount

# The payment figures and records of GET /v1/orders/{id}.
from functions.payments.rules.summary import payment_summary

__all__ = [
    "open_amount",
    "payment_summary",
    "refund",
    "release_authorized_funds",
]
