"""Who may see and change which locations' stock."""

from __future__ import annotations

from functions.inventory.store import Location
from shared.api.caller import Caller
from shared.errors import Forbidden


def authorize_stock_write(caller: Caller, location_id: str) -> None:
    """A WMS writes the stock of its own locations; operators write any."""
    caller.require("wms", "ops")
    if caller.role == "wms" and location_id not in caller.locations:
        raise Forbidden(
            f"this key may not change stock at {location_id!r}",
            errors=[{"field": "location_id", "message": "not one of this key's locations"}],
        )


def may_see_location(caller: Caller, location: Location) -> bool:
    """Operators and agents see every location, a WMS its own, channels the active ones."""
    if caller.role in ("ops", "agent"):
        return True
    if caller.role == "wms":
        return location.location_id in caller.locations
    return location.active
