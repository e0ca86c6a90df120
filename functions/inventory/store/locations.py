"""Locations (warehouses, stores, dropship vendors) and their daily shipping capacity.

LOCATION#<id> / LOCATION      the location; gsi1 ``LOCATIONS`` by location id lists them all
CAPACITY#<id> / <YYYY-MM-DD>  shipments promised from the location that day (expires by TTL)

A network has at most a few hundred locations, so one GSI partition lists them in a
query or two; locations change rarely, so that partition is never hot.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.inventory.rules.capacity import check_day, check_shipments, counter_expires, room_before
from shared.api.validation import GroupName, Id, StrictBool, StrictFloat, Text, distinct
from shared.clock import now_iso
from shared.table import Item, Table

ALL_LOCATIONS = "LOCATIONS"

LocationId = Id
Cents = Annotated[int, Field(strict=True, ge=0, le=100_000_000)]
LocationType = Literal["warehouse", "store", "dropship"]


class ShipCost(BaseModel):
    """What one shipment from the location costs, in cents: base + per_km x km + per_unit x units."""

    model_config = ConfigDict(extra="forbid")

    base: Cents = 0
    per_km: Cents = 0
    per_unit: Cents = 0


class LocationFields(BaseModel):
    """A location as its owner describes it (the body of ``PUT /v1/locations/{id}``)."""

    model_config = ConfigDict(extra="forbid")

    name: Text
    type: LocationType
    lat: Annotated[StrictFloat, Field(ge=-90, le=90)]
    lon: Annotated[StrictFloat, Field(ge=-180, le=180)]
    active: StrictBool = True
    ship_cost: ShipCost | None = None
    handling: Cents | None = Field(default=None, description="cents per shipment")
    daily_capacity: Annotated[int, Field(strict=True, ge=0, le=10_000_000)] | None = Field(
        default=None, description="shipments per day; none means unlimited"
    )
    groups: Annotated[list[GroupName], Field(max_length=20)] = Field(
        default_factory=list, description='e.g. "eu-warehouses", "stores-that-ship"; each at most once'
    )

    @field_validator("groups")
    @classmethod
    def _groups_are_a_set(cls, groups: list[str]) -> list[str]:
        # A group named twice would count the location's stock twice in the group's totals.
        distinct(groups)
        return groups


class Location(LocationFields):
    location_id: LocationId
    updated_at: str | None = None


def location_pk(location_id: str) -> str:
    return f"LOCATION#{location_id}"


def capacity_pk(location_id: str) -> str:
    return f"CAPACITY#{location_id}"


def _to_item(location: Location) -> Item:
    fields = location.model_dump(mode="json", exclude={"type"})
    return {
        "pk": location_pk(location.location_id),
        "sk": "LOCATION",
        # `type` names the item kind in this table; the location's kind is location_type.
        "type": "location",
        "location_type": location.type,
        **fields,
        "gsi1pk": ALL_LOCATIONS,
        "gsi1sk": location.location_id,
    }


def _from_item(item: Item) -> Location:
    fields = {k: v for k, v in item.items() if k in Location.model_fields and k != "type"}
    return Location.model_validate({**fields, "type": item["location_type"]})


_VERSION_KEY = ("LOCATIONS", "VERSION")


def put_location(location: Location, table: Table | None = None) -> Location:
    """Create or replace a location; returns it with its ``updated_at``.

    The location list's version goes up with it, so readers caching the list notice.
    """
    table = table or Table()
    stored = location.model_copy(update={"updated_at": now_iso()})
    table.transact(
        [
            {"Put": {"Item": _to_item(stored)}},
            {
                "Update": {
                    "Key": {"pk": _VERSION_KEY[0], "sk": _VERSION_KEY[1]},
                    "UpdateExpression": "SET version = if_not_exists(version, :zero) + :one, #type = :type",
                    "ExpressionAttributeNames": {"#type": "type"},
                    "ExpressionAttributeValues": {":zero": 0, ":one": 1, ":type": "locations_version"},
                }
            },
        ]
    )
    return stored


def locations_version(table: Table | None = None) -> int:
    """A number that changes whenever any location does (one read, not a query)."""
    item = (table or Table()).get(*_VERSION_KEY)
    return int(item["version"]) if item else 0


def get_location(location_id: str, table: Table | None = None) -> Location | None:
    item = (table or Table()).get(location_pk(location_id), "LOCATION")
    return _from_item(item) if item else None


def get_locations(location_ids: list[str] | set[str], table: Table | None = None) -> dict[str, Location]:
    """The locations that exist among ``location_ids``, by id (one BatchGetItem per 100)."""
    items = (table or Table()).batch_get([(location_pk(i), "LOCATION") for i in location_ids])
    return {loc.location_id: loc for loc in map(_from_item, items)}


def list_locations(table: Table | None = None) -> list[Location]:
    """Every location, by id."""
    items = (table or Table()).query_all("gsi1pk = :pk", {":pk": ALL_LOCATIONS}, index="gsi1")
    return [_from_item(i) for i in items]


def _capacity_key(location_id: str, day: str) -> dict[str, str]:
    return {"pk": capacity_pk(location_id), "sk": check_day(day)}


def capacity_op(location_id: str, day: str, shipments: int, daily_capacity: int | None) -> dict[str, Any]:
    """A transaction Update adding ``shipments`` to the location's count for ``day``.

    With a ``daily_capacity`` the condition keeps the new total within it, so concurrent
    allocations cannot overbook a location; ``None`` counts without a limit. More
    shipments than the whole capacity raise ``CapacityExceeded`` before any write.
    """
    check_shipments(shipments)
    op: dict[str, Any] = {
        "Key": _capacity_key(location_id, day),
        "UpdateExpression": "SET used = if_not_exists(used, :zero) + :n, #type = :type, "
        "location_id = :loc, #ttl = :ttl",
        "ExpressionAttributeNames": {"#type": "type", "#ttl": "ttl"},
        "ExpressionAttributeValues": {
            ":n": shipments,
            ":zero": 0,
            ":type": "capacity",
            ":loc": location_id,
            ":ttl": counter_expires(day),
        },
    }
    if daily_capacity is not None:
        room = room_before(location_id, daily_capacity, shipments)
        op["ConditionExpression"] = "attribute_not_exists(used) OR used <= :room"
        op["ExpressionAttributeValues"][":room"] = room
    return {"Update": op}


def capacity_release_op(location_id: str, day: str, shipments: int) -> dict[str, Any]:
    """A transaction Update giving back ``shipments`` counted by ``capacity_op`` (compensation)."""
    check_shipments(shipments)
    return {
        "Update": {
            "Key": _capacity_key(location_id, day),
            "UpdateExpression": "SET used = used - :n",
            "ConditionExpression": "used >= :n",
            "ExpressionAttributeValues": {":n": shipments},
        }
    }


def capacity_used(location_ids: list[str] | set[str], day: str, table: Table | None = None) -> dict[str, int]:
    """Shipments counted for ``day`` per location; 0 for a location with none yet."""
    check_day(day)
    keys = [(capacity_pk(i), day) for i in location_ids]
    found = {item["location_id"]: int(item["used"]) for item in (table or Table()).batch_get(keys, consistent=True)}
    return {i: found.get(i, 0) for i in location_ids}
