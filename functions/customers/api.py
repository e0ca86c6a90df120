"""What other domains use of customers: matching at capture, the read models for reports, the routers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.customers.rules.facts import placed_at

# Customers and their lifetime sums (fraud screening's history); orders' facts and demand per SKU
# and day, kept from the stream (reports, forecasts).
from functions.customers.store import (
    demand_history,
    facts_of_day,
    get_customer,
    get_facts,
    lifetimes,
    resolve_customer,
    skus_with_demand,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router

__all__ = [
    "demand_history",
    "facts_of_day",
    "get_customer",
    "get_facts",
    "http_routers",
    "lifetimes",
    "placed_at",
    "resolve_customer",
    "skus_with_demand",
]


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers (imported on call: the handler module builds an app)."""
    from functions.customers.handlers.api import router

    return (router,)
