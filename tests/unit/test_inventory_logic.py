"""Inventory logic without AWS: availability math, the ops' conditions, access, models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from functions.inventory.logic.access import authorize_stock_write, may_see_location
from functions.inventory.logic.availability import summarize
from functions.inventory.logic.models import AdjustmentIn, ImportIn, StockIn, StockRow, StockView
from functions.inventory.rules.stock import normalize_as_of
from functions.inventory.store import (
    Location,
    LocationFields,
    StockRecord,
    capacity_op,
    release_op,
    reserve_op,
    ship_op,
)
from shared.api.caller import Caller
from shared.errors import Forbidden, InvalidInput
from shared.queues import BATCH_BYTES, _batches

OPS = Caller(principal_id="o", role="ops")
AGENT = Caller(principal_id="a", role="agent")
WMS = Caller(principal_id="w", role="wms", locations=("wh-1",))
WEB = Caller(principal_id="c", role="channel", channel="web")


def loc(location_id: str, active: bool = True, groups: tuple[str, ...] = ()) -> Location:
    return Location(
        location_id=location_id, name=location_id, type="warehouse", lat=0, lon=0, active=active, groups=list(groups)
    )


def rec(location_id: str, on_hand: int, reserved: int = 0, safety: int = 0) -> StockRecord:
    return StockRecord(
        sku="A",
        location_id=location_id,
        on_hand=on_hand,
        reserved=reserved,
        safety_stock=safety,
        available=on_hand - reserved - safety,
    )


def test_summarize_promises_active_stock_clamped_at_zero_with_group_totals():
    locations = [
        loc("wh-1", groups=("eu",)),
        loc("wh-2", groups=("eu", "big")),
        loc("st-1", active=False, groups=("eu",)),
        loc("empty"),
    ]
    records = {
        "wh-1": rec("wh-1", 10, 3, 2),
        "wh-2": rec("wh-2", 1, 4),  # oversold by a recount: -3 inside, 0 outside
        "st-1": rec("st-1", 7),
        "elsewhere": rec("elsewhere", 100),  # a location the caller does not see
    }
    out = summarize("A", records, locations)
    assert out.available_to_promise == 5
    assert [(row.location_id, row.available, row.active) for row in out.locations] == [
        ("st-1", 7, False),
        ("wh-1", 5, True),
        ("wh-2", 0, True),
    ]
    assert out.groups["eu"].model_dump() == {"on_hand": 11, "reserved": 7, "safety_stock": 2, "available": 5}
    assert out.groups["big"].available == 0
    assert list(out.groups) == ["big", "eu"]


def test_stock_view_never_shows_a_negative_available():
    view = StockView.of(rec("wh-1", 1, 3))
    assert view.available == 0 and view.reserved == 3
    assert rec("wh-1", 1, 3).available_to_promise == 0


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000Z"),
        ("2024-05-01T12:00:00.123456+02:00", "2024-05-01T10:00:00.123Z"),
        (datetime(2024, 5, 1, 10, tzinfo=UTC), "2024-05-01T10:00:00.000Z"),
    ],
)
def test_as_of_is_stored_in_one_comparable_form(value, stored):
    assert normalize_as_of(value) == stored


@pytest.mark.parametrize("value", ["yesterday", "2024-05-01T10:00:00"])
def test_as_of_needs_an_instant(value):
    with pytest.raises(InvalidInput):
        normalize_as_of(value)


def test_ops_carry_their_conditions():
    reserve = reserve_op("A", "wh-1", 2)["Update"]
    assert reserve["Key"] == {"pk": "SKU#A", "sk": "LOC#wh-1"}
    assert reserve["ConditionExpression"] == "available >= :q"
    assert reserve["ExpressionAttributeValues"][":q"] == 2
    # Without a bucket, release and ship read the pair to find the bucket holding the units.
    assert release_op("A", "wh-1", 1, bucket=0)["Update"]["ConditionExpression"] == "reserved >= :q"
    assert ship_op("A", "wh-1", 1, bucket=0)["Update"]["ConditionExpression"] == "reserved >= :q AND on_hand >= :q"
    assert release_op("A", "wh-1", 1, bucket=3)["Update"]["Key"] == {"pk": "SKU#A#B3", "sk": "LOC#wh-1"}
    for op in (reserve_op, release_op, ship_op):
        with pytest.raises(ValueError):
            op("A", "wh-1", 0)


def test_capacity_op_condition_leaves_room_for_the_new_shipments():
    op = capacity_op("wh-1", "2024-05-01", 2, 5)["Update"]
    assert op["Key"] == {"pk": "CAPACITY#wh-1", "sk": "2024-05-01"}
    assert op["ExpressionAttributeValues"][":room"] == 3
    assert "ConditionExpression" not in capacity_op("wh-1", "2024-05-01", 2, None)["Update"]


def test_stock_writers_and_location_visibility():
    authorize_stock_write(OPS, "anywhere")
    authorize_stock_write(WMS, "wh-1")
    for caller, location_id in ((WMS, "wh-2"), (AGENT, "wh-1"), (WEB, "wh-1")):
        with pytest.raises(Forbidden):
            authorize_stock_write(caller, location_id)
    closed = loc("wh-1", active=False)
    assert may_see_location(OPS, closed) and may_see_location(AGENT, closed) and may_see_location(WMS, closed)
    assert not may_see_location(WEB, closed) and may_see_location(WEB, loc("wh-9"))
    assert not may_see_location(WMS, loc("wh-9"))


def test_bodies_are_strict():
    with pytest.raises(ValidationError):
        StockIn.model_validate({"on_hand": 1.0, "as_of": "2024-05-01T10:00:00Z"})
    with pytest.raises(ValidationError):
        StockIn.model_validate({"on_hand": 1, "as_of": "2024-05-01T10:00:00"})  # no time zone
    with pytest.raises(ValidationError):
        AdjustmentIn.model_validate({"location_id": "wh-1", "sku": "A", "delta": True, "reason": "x"})
    with pytest.raises(ValidationError):
        StockRow.model_validate({"location_id": "wh 1", "sku": "A", "on_hand": 1, "as_of": "2024-05-01T10:00:00Z"})
    with pytest.raises(ValidationError):
        LocationFields.model_validate({"name": "x", "type": "warehouse", "lat": 0, "lon": 0, "groups": ["EU"]})
    with pytest.raises(ValidationError):
        LocationFields.model_validate({"name": "x", "type": "warehouse", "lat": 0, "lon": 0, "handling": -1})


def test_import_rows_are_bounded_in_size():
    row = {"location_id": "wh-1", "sku": "A", "on_hand": 1, "as_of": "2024-05-01T10:00:00Z"}
    ImportIn.model_validate({"rows": [row]})
    with pytest.raises(ValidationError, match="row 2 is larger than"):
        ImportIn.model_validate({"rows": [row, row | {"note": "x" * 1000}]})


def test_queue_batches_respect_the_count_and_the_size_limits():
    assert [len(b) for b in _batches(["m"] * 23)] == [10, 10, 3]
    big = "x" * 100_000
    assert [len(b) for b in _batches([big, big, big, "m"])] == [2, 2]
    with pytest.raises(ValueError):
        _batches(["x" * (BATCH_BYTES + 1)])
