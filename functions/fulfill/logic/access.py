"""Who may see and work which fulfillment orders.

A WMS key sees and works only the fulfillment orders of its locations; another
location's is reported as unknown (404), so a key learns nothing about other locations'
work. Agents read everything, operators do everything, channels nothing (403).
"""

from __future__ import annotations

from shared.api.caller import Caller, Role
from shared.errors import Forbidden, NotFound
from shared.table import Item

READ_ROLES: tuple[Role, ...] = ("wms", "agent", "ops")
WORK_ROLES: tuple[Role, ...] = ("wms", "ops")


def visible(caller: Caller, fo: Item) -> Item:
    caller.require(*READ_ROLES)
    if caller.role == "wms" and fo["location_id"] not in caller.locations:
        raise NotFound(f"no fulfillment order {fo['fo_id']}")
    return fo


def workable(caller: Caller, fo: Item) -> Item:
    caller.require(*WORK_ROLES)
    return visible(caller, fo)


def listable_location(caller: Caller, location_id: str) -> None:
    """Naming a location that is not the key's own is refused (the key named it itself)."""
    caller.require(*READ_ROLES)
    if caller.role == "wms" and location_id not in caller.locations:
        raise Forbidden(
            f"this key may not see the work of {location_id!r}",
            errors=[{"field": "location_id", "message": "not one of this key's locations"}],
        )
