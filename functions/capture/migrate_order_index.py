"""``python -m functions.capture.migrate_order_index``: move order headers written before the
all-orders index (gsi3) was sharded from its one partition ``ORDERS`` to their shards
``ORDERS#<nn>``. Safe to run any number of times, and while the system takes orders."""

from __future__ import annotations

import json

from functions.capture.store import migrate_legacy_order_index

if __name__ == "__main__":
    print(json.dumps(migrate_legacy_order_index()))
