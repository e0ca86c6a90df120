"""What other domains use of the inventory domain (the only module they import from it).

Locations and their daily capacity (routing and reservation); stock: its keys (a split
pair's buckets: ``bucket_pk``), reads (buckets summed) and the transaction operations that
reserve, release and ship it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.inventory.store import (
    Location,
    StockConflict,
    bucket_pk,
    capacity_op,
    capacity_release_op,
    capacity_used,
    list_locations,
    locations_version,
    release_op,
    reserve_op,
    ship_op,
    stock_for_skus,
    stock_pk,
    stock_sk,
    unsplit_bucket,
)

__all__ = [
    "Location",
    "StockConflict",
    "bucket_pk",
    "capacity_op",
    "capacity_release_op",
    "capacity_used",
    "http_routers",
    "list_locations",
    "locations_version",
    "release_op",
    "reserve_op",
    "ship_op",
    "stock_for_skus",
    "stock_pk",
    "stock_sk",
    "unsplit_bucket",
]

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import Router


def http_routers() -> tuple[Router, ...]:
    """The domain's HTTP routers, for the OpenAPI document (imported on call: handler modules build an app)."""
    from functions.inventory.handlers.api import router as inventory_router

    return (inventory_router,)
