"""``python -m functions.capture.migrate_order_index``: move items written before their index was
sharded to their shards: order headers from the all-orders partition ``ORDERS`` (gsi3) to
``ORDERS#<nn>`` and from their channel's ``CHANNEL#<channel>`` (gsi1) to
``CHANNEL#<channel>#<nn>``; fulfillment orders from their location's ``FOLOC#<location>``
(gsi1) to ``FOLOC#<location>#<nn>``. Safe to run any number of times, and while the system
takes orders."""

from __future__ import annotations

import json

from functions.capture.store import migrate_legacy_channel_index, migrate_legacy_order_index
from functions.fulfill.api import migrate_legacy_location_index
from functions.inventory.api import list_locations
from shared.table import Table


def migrate_all(table: Table | None = None) -> dict[str, dict[str, int]]:
    table = table or Table()
    # The all-orders index first: the channel migration reads the headers through it.
    orders = migrate_legacy_order_index(table)
    channels = migrate_legacy_channel_index(table)
    locations = migrate_legacy_location_index([loc.location_id for loc in list_locations(table)], table)
    return {"orders": orders, "channels": channels, "locations": locations}


if __name__ == "__main__":
    print(json.dumps(migrate_all()))
