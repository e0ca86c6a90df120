"""functions/inventory/store/locations.py against moto: locations and the daily capacity counter."""

from __future__ import annotations

import pytest

from functions.inventory.rules.capacity import CapacityExceeded
from functions.inventory.store import (
    Location,
    ShipCost,
    capacity_op,
    capacity_release_op,
    capacity_used,
    get_location,
    get_locations,
    list_locations,
    put_location,
)
from shared.table import ConditionFailed, Table


def location(location_id: str, **over) -> Location:
    fields = {"location_id": location_id, "name": location_id, "type": "warehouse", "lat": 48.1, "lon": 11.6}
    return Location.model_validate(fields | over)


def test_locations_round_trip_and_list(aws):
    stored = put_location(
        location("wh-b", ship_cost=ShipCost(base=400, per_km=2, per_unit=50), handling=90, daily_capacity=3)
    )
    put_location(location("st-a", type="store", groups=["stores-that-ship"], active=False))
    assert stored.updated_at
    assert get_location("wh-b") == stored
    assert get_location("nowhere") is None
    assert [loc.location_id for loc in list_locations()] == ["st-a", "wh-b"]
    assert list_locations()[0].type == "store" and list_locations()[0].groups == ["stores-that-ship"]
    assert set(get_locations(["wh-b", "nowhere", "st-a", "wh-b"])) == {"wh-b", "st-a"}


def test_capacity_counts_shipments_within_the_daily_limit(aws):
    table = Table()
    day = "2024-05-01"
    table.transact([capacity_op("wh-b", day, 2, 3)])
    with pytest.raises(ConditionFailed):
        table.transact([capacity_op("wh-b", day, 2, 3)])
    table.transact([capacity_op("wh-b", day, 1, 3)])
    table.transact([capacity_op("wh-c", day, 5, None)])  # no limit: counted only
    assert capacity_used(["wh-b", "wh-c", "wh-d"], day) == {"wh-b": 3, "wh-c": 5, "wh-d": 0}
    assert capacity_used(["wh-b"], "2024-05-02") == {"wh-b": 0}
    table.transact([capacity_release_op("wh-b", day, 2)])
    assert capacity_used(["wh-b"], day) == {"wh-b": 1}
    with pytest.raises(ConditionFailed):
        table.transact([capacity_release_op("wh-b", day, 2)])
    item = table.get("CAPACITY#wh-b", day)
    assert item is not None and item["ttl"] > 0


def test_capacity_op_refuses_more_than_a_whole_day_and_bad_days():
    with pytest.raises(CapacityExceeded):
        capacity_op("wh-b", "2024-05-01", 4, 3)
    with pytest.raises(ValueError):
        capacity_op("wh-b", "May 1st", 1, 3)
    with pytest.raises(ValueError):
        capacity_op("wh-b", "2024-05-01", 0, 3)
