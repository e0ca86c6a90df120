"""Locations through the API: operators define them, every caller lists what it may see."""

from __future__ import annotations

from functions.inventory.logic.access import may_see_location
from functions.inventory.logic.models import LocationPage
from functions.inventory.store import Location, LocationFields, get_location, list_locations, put_location
from shared.api.caller import Caller
from shared.errors import InvalidInput, NotFound
from shared.table import decode_cursor, encode_cursor

# Static segments under /v1/inventory/: a location of that id could not take stock by PUT.
RESERVED_IDS = frozenset({"adjustments", "imports"})


def save_location(caller: Caller, location_id: str, fields: LocationFields) -> Location:
    caller.require("ops")
    if location_id in RESERVED_IDS:
        raise InvalidInput(
            f"{location_id!r} is a reserved word", errors=[{"field": "location_id", "message": "reserved"}]
        )
    location = Location.model_validate({**fields.model_dump(), "location_id": location_id})
    return put_location(location)


def visible_location(caller: Caller, location_id: str) -> Location:
    """The location, or 404 if it does not exist or this caller may not see it."""
    location = get_location(location_id)
    if location is None or not may_see_location(caller, location):
        raise NotFound(f"no location {location_id}")
    return location


def find_locations(caller: Caller, *, limit: int, cursor: str | None) -> LocationPage:
    """A page of the locations this caller may see, by id."""
    caller.require("channel", "wms", "agent", "ops")
    after = decode_cursor(cursor, required_keys=("location_id",))
    visible = [
        loc
        for loc in list_locations()
        if may_see_location(caller, loc) and (after is None or loc.location_id > after["location_id"])
    ]
    page = visible[:limit]
    more = len(visible) > limit
    return LocationPage(items=page, next_cursor=encode_cursor({"location_id": page[-1].location_id}) if more else None)
