"""What other domains (capture) use of customers."""

from __future__ import annotations

from functions.customers.store import get_customer, resolve_customer

__all__ = ["get_customer", "resolve_customer"]
