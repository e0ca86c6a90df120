"""A line's quantity buckets: read from a line item, what follows from them, the invariants."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.order.quantities import BUCKETS, LineQuantities, line_status

counts = st.integers(min_value=0, max_value=50)


@st.composite
def consistent_buckets(draw: st.DrawFn) -> LineQuantities:
    """Buckets a line can reach: cancel and ship from what is ordered, return from what shipped."""
    ordered = draw(st.integers(min_value=0, max_value=50))
    cancelled = draw(st.integers(min_value=0, max_value=ordered))
    shipped = draw(st.integers(min_value=0, max_value=ordered - cancelled))
    allocated = draw(st.integers(min_value=shipped, max_value=ordered - cancelled))
    returned = draw(st.integers(min_value=0, max_value=shipped))
    return_initiated = draw(st.integers(min_value=0, max_value=shipped - returned))
    return LineQuantities(ordered, allocated, shipped, cancelled, return_initiated, returned)


def test_absent_buckets_are_zero_and_values_become_ints():
    q = LineQuantities.of({"quantities": {"ordered": 3, "shipped": "1"}})
    assert q == LineQuantities(ordered=3, shipped=1)
    assert LineQuantities.of({}) == LineQuantities(ordered=0)
    assert LineQuantities.of({"quantities": None}).as_dict() == dict.fromkeys(BUCKETS, 0)
    assert tuple(q.as_dict()) == BUCKETS


def test_it_is_frozen():
    q = LineQuantities(ordered=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.ordered = 2  # type: ignore[misc]


def test_the_derived_units():
    q = LineQuantities(ordered=10, allocated=6, shipped=4, cancelled=2, return_initiated=1, returned=1)
    assert q.live == 8
    assert q.to_allocate == 2
    assert q.unshipped == 4
    assert q.cancellable == 4
    assert q.returnable == 2
    assert q.consistent()


@given(consistent_buckets())
def test_reachable_buckets_are_consistent_and_leave_nothing_negative(q: LineQuantities):
    assert q.consistent()
    assert LineQuantities.from_buckets(q.as_dict()) == q
    assert 0 <= q.to_allocate <= q.live
    assert 0 <= q.cancellable == q.unshipped <= q.live
    assert 0 <= q.returnable <= q.shipped
    assert q.shipped + q.cancellable + q.cancelled == q.ordered


@given(counts, counts, counts, counts, counts, counts)
def test_consistent_is_exactly_the_invariants(ordered, allocated, shipped, cancelled, return_initiated, returned):
    q = LineQuantities(ordered, allocated, shipped, cancelled, return_initiated, returned)
    assert q.consistent() == (
        shipped + cancelled <= ordered and allocated + cancelled <= ordered and return_initiated + returned <= shipped
    )


@pytest.mark.parametrize("bucket", BUCKETS)
def test_a_negative_bucket_is_never_consistent(bucket):
    q = dataclasses.replace(LineQuantities(ordered=5), **{bucket: -1})
    assert not q.consistent()


@given(consistent_buckets())
def test_the_status_follows_from_the_buckets(q: LineQuantities):
    status = line_status(q)
    if q.live <= 0:
        assert status == "cancelled"
    elif q.shipped >= q.live:
        assert status in ("shipped", "returned")
    elif q.shipped:
        assert status == "partially_shipped"
    else:
        assert status in ("allocated", "partially_allocated", "open")
        assert (status == "open") == (q.allocated == 0)


# -- the write builder every bucket move goes through --------------------------------------


def _line(**buckets: int) -> dict:
    return {"pk": "ORDER#o", "sk": "LINE#00001", "line_id": "ln_1", "quantities": {"ordered": 3, **buckets}}


def test_a_shipment_is_pinned_on_the_cancelled_bucket_and_a_cancel_on_the_shipped_one():
    from shared.order.quantities import bucket_write

    ship = bucket_write(_line(allocated=3), shipped=3)["Update"]
    assert ship["UpdateExpression"] == "SET quantities.shipped = :new_shipped"
    assert "quantities.cancelled = :old_cancelled" in ship["ConditionExpression"]
    assert ship["ExpressionAttributeValues"][":old_cancelled"] == 0
    cancel = bucket_write(_line(allocated=3), cancelled=3, allocated=-3)["Update"]
    assert "quantities.shipped = :old_shipped" in cancel["ConditionExpression"]
    assert cancel["ExpressionAttributeValues"][":new_cancelled"] == 3


def test_a_move_that_breaks_an_invariant_is_refused_before_any_write():
    from shared.errors import Conflict
    from shared.order.quantities import bucket_write

    with pytest.raises(Conflict, match="shipped \\+ cancelled > ordered"):
        bucket_write(_line(allocated=3, cancelled=3), shipped=3)
    with pytest.raises(Conflict, match="allocated \\+ cancelled > ordered"):
        bucket_write(_line(allocated=3), cancelled=1)  # cancelled units must leave allocated too
    with pytest.raises(Conflict, match="return_initiated \\+ returned > shipped"):
        bucket_write(_line(allocated=3, shipped=1), return_initiated=2)


@given(consistent_buckets(), st.sampled_from(["allocated", "cancelled", "shipped", "return_initiated"]), counts)
def test_every_write_it_builds_keeps_the_invariants(q: LineQuantities, bucket: str, units: int):
    from shared.errors import Conflict
    from shared.order.quantities import INVARIANT_PARTNERS, bucket_write

    line = {"pk": "p", "sk": "s", "quantities": q.as_dict()}
    try:
        op = bucket_write(line, **{bucket: units + 1})["Update"]
    except Conflict:
        assert not q.moved(**{bucket: units + 1}).consistent()
        return
    assert q.moved(**{bucket: units + 1}).consistent()
    for partner in INVARIANT_PARTNERS[bucket]:
        assert f"quantities.{partner}" in op["ConditionExpression"]
