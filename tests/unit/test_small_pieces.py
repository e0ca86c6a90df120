import re

import pytest

from shared.api.caller import caller_from_context
from shared.clock import iso, now
from shared.errors import MalformedInput, Unauthorized
from shared.ids import child_id, new_id, parent_of
from shared.order.quantities import LineQuantities, line_status
from shared.table import decode_cursor, encode_cursor
from shared.workflow import execution_arn


def test_ids_are_prefixed_unique_and_time_ordered():
    ids = [new_id("ord") for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(re.fullmatch(r"ord_[0-9a-z]{26}", i) for i in ids)
    assert [i[:14] for i in ids] == sorted(i[:14] for i in ids)
    with pytest.raises(ValueError):
        new_id("zzz")


def test_a_child_id_names_its_parent_and_other_ids_name_none():
    order_id = new_id("ord")
    children = {child_id("fo", order_id) for _ in range(100)}
    assert len(children) == 100  # 30 random bits: an order's few children do not meet
    assert all(c.startswith("fo_") and len(c) == 35 and parent_of(c, "ord") == order_id for c in children)
    assert parent_of(new_id("fo"), "ord") is None  # made before ids named their parent
    assert parent_of("fo_unknown", "ord") is None
    assert parent_of("fo_" + "U" * 32, "ord") is None  # not the id alphabet
    # A parent of another shape: an ordinary id, which readers look up the old way.
    assert parent_of(child_id("fo", "ord_imported-7"), "ord") is None


def test_iso_is_utc_with_milliseconds():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", iso(now()))


@pytest.mark.parametrize(
    ("q", "status"),
    [
        ({"ordered": 3}, "open"),
        ({"ordered": 3, "allocated": 1}, "partially_allocated"),
        ({"ordered": 3, "allocated": 3}, "allocated"),
        ({"ordered": 3, "allocated": 3, "shipped": 1}, "partially_shipped"),
        ({"ordered": 3, "cancelled": 1, "allocated": 2, "shipped": 2}, "shipped"),
        ({"ordered": 3, "cancelled": 3}, "cancelled"),
        ({"ordered": 2, "shipped": 2, "returned": 2}, "returned"),
    ],
)
def test_line_status_follows_from_buckets(q, status):
    assert line_status(LineQuantities.from_buckets(q)) == status


def test_cursor_round_trip_and_garbage():
    key = {"pk": "ORDER#1", "sk": "HEADER", "gsi1pk": "CHANNEL#web"}
    assert decode_cursor(encode_cursor(key)) == key
    assert encode_cursor(None) is None
    for bad in ("!!!", "e30", encode_cursor({"pk": "x"}) or ""):
        with pytest.raises(MalformedInput):
            decode_cursor(bad)


def test_execution_arn_follows_from_the_state_machine():
    sm = "arn:aws:states:us-east-1:123456789012:stateMachine:oms-OrderLifecycle"
    assert execution_arn(sm, "ord_1") == "arn:aws:states:us-east-1:123456789012:execution:oms-OrderLifecycle:ord_1"


def test_caller_from_authorizer_context():
    c = caller_from_context({"principal_id": "wms", "role": "wms", "channel": "", "locations": "a,b"})
    assert c.locations == ("a", "b") and c.channel is None
    assert c.may_see_channel("web") is False
    with pytest.raises(Unauthorized):
        caller_from_context({})
