"""``python -m functions.customers.rebuild``: recompute the read models from the orders."""

from __future__ import annotations

import json

from functions.customers.logic.projection import rebuild

if __name__ == "__main__":
    print(json.dumps(rebuild()))
