"""What other domains use of the inventory domain (the only module they import from it).

Locations and their daily capacity (routing and reservation); stock: its keys, reads and
the transaction operations that reserve, release and ship it.
"""

from functions.inventory.store import (
    Location,
    StockConflict,
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
)

__all__ = [
    "Location",
    "StockConflict",
    "capacity_op",
    "capacity_release_op",
    "capacity_used",
    "list_locations",
    "locations_version",
    "release_op",
    "reserve_op",
    "ship_op",
    "stock_for_skus",
    "stock_pk",
    "stock_sk",
]
