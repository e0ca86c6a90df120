"""Find an order's payment from a provider's reference (webhooks carry only those)."""

from __future__ import annotations

from functions.payments.store import payment_ref_pk
from shared.table import Table


def payment_by_reference(provider: str, reference: str) -> tuple[str, str] | None:
    """(order id, payment id) of a provider's authorization reference, if it is one of ours."""
    pointer = Table().get(payment_ref_pk(provider, reference), "PAYREF")
    return (str(pointer["order_id"]), str(pointer["payment_id"])) if pointer else None
