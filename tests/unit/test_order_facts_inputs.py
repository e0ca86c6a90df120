"""Which changes to an order's items can change its facts: the read models skip the rest."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from functions.customers.rules.facts import may_change_facts, order_facts
from shared.order.record import OrderRecord

HEADER: dict[str, Any] = {
    "pk": "ORDER#ord_1",
    "sk": "HEADER",
    "type": "order",
    "order_id": "ord_1",
    "customer_id": "cus_1",
    "channel": "web",
    "currency": "EUR",
    "created_at": "2026-12-01T10:00:00.000Z",
    "status": "open",
    "totals": {"subtotal": 3000, "total": 3500},
    "payment_totals": {"authorized": 0, "captured": 0, "refunded": 0},
    "version": 3,
    "updated_at": "2026-12-01T10:00:00.000Z",
}
LINE: dict[str, Any] = {
    "pk": "ORDER#ord_1",
    "sk": "LINE#00001",
    "type": "line",
    "line_id": "l1",
    "position": 1,
    "sku": "SHIRT-A",
    "quantity": 2,
    "quantities": {"ordered": 2},
    "unit_price": 1500,
    "version": 1,
}
ALLOC: dict[str, Any] = {
    "pk": "ORDER#ord_1",
    "sk": "ALLOC#00001#1#wh-east",
    "type": "allocation",
    "line_id": "l1",
    "location_id": "wh-east",
    "quantity": 2,
    "round": 1,
    "status": "reserved",
}
SHIPMENT: dict[str, Any] = {
    "pk": "ORDER#ord_1",
    "sk": "SHP#shp_1",
    "type": "shipment",
    "location_id": "wh-east",
    "shipped_at": "2026-12-01T12:00:00.000Z",
    "tracking_status": "in_transit",
    "capture_status": "pending",
}


def test_an_authorization_on_the_header_or_a_payment_item_cannot_change_the_facts():
    authorized = HEADER | {"payment_totals": {"authorized": 3500, "captured": 0, "refunded": 0}, "version": 4}
    assert not may_change_facts(HEADER, authorized | {"updated_at": "2026-12-01T10:00:01.000Z"})
    assert not may_change_facts(None, {"pk": "ORDER#ord_1", "sk": "PAY#pay_1", "type": "payment", "amount": 3500})
    captured = authorized | {"payment_totals": {"authorized": 3500, "captured": 3500, "refunded": 0}}
    assert may_change_facts(authorized, captured)
    assert may_change_facts(HEADER, HEADER | {"status": "completed"})
    assert may_change_facts(HEADER, HEADER | {"totals": {"subtotal": 3000, "total": 3400}})
    assert not may_change_facts(HEADER, HEADER | {"totals": {"subtotal": 2900, "total": 3500}})


def test_a_link_or_tracking_changes_nothing_and_new_items_and_units_do():
    assert not may_change_facts(ALLOC, ALLOC | {"fo_id": "fo_1", "shipped": 0})
    assert may_change_facts(ALLOC, ALLOC | {"quantity": 1})
    assert not may_change_facts(SHIPMENT, SHIPMENT | {"tracking_status": "delivered", "capture_status": "captured"})
    assert may_change_facts(None, SHIPMENT)
    assert may_change_facts(None, {"pk": "ORDER#ord_1", "sk": "RET#ret_1", "type": "return"})  # counted
    assert not may_change_facts({"sk": "RET#ret_1", "status": "open"}, {"sk": "RET#ret_1", "status": "received"})
    assert not may_change_facts(LINE, LINE | {"version": 2, "updated_at": "2026-12-01T10:00:01.000Z"})


def test_units_moving_between_buckets_the_facts_do_not_count_change_nothing_and_counted_ones_do():
    allocated = LINE | {"quantities": {"ordered": 2, "allocated": 2}, "version": 2}
    assert not may_change_facts(LINE, allocated)
    shipped = allocated | {"quantities": {"ordered": 2, "allocated": 2, "shipped": 2}}
    assert may_change_facts(allocated, shipped)
    for counted in ("cancelled", "returned"):
        assert may_change_facts(allocated, allocated | {"quantities": {"ordered": 2, "allocated": 2, counted: 1}})
    assert may_change_facts(LINE, LINE | {"quantities": {"ordered": 3}})


def test_the_fulfillment_status_changes_the_facts_only_into_or_out_of_backordered():
    statuses = ["unallocated", "allocated", "shipped", "delivered"]
    for old, new in itertools.pairwise(statuses):
        assert not may_change_facts(HEADER | {"fulfillment_status": old}, HEADER | {"fulfillment_status": new})
    assert may_change_facts(
        HEADER | {"fulfillment_status": "unallocated"}, HEADER | {"fulfillment_status": "backordered"}
    )
    assert may_change_facts(
        HEADER | {"fulfillment_status": "backordered"}, HEADER | {"fulfillment_status": "allocated"}
    )


_UNREAD = st.dictionaries(
    st.sampled_from(["version", "updated_at", "notes", "tracking_status", "fo_id", "signal"]),
    st.one_of(st.integers(0, 9), st.text(max_size=5)),
)
# A header's fulfillment status other than backordered, and a line's buckets the facts do not count.
_UNREAD_HEADER = _UNREAD | st.fixed_dictionaries(
    {}, optional={"fulfillment_status": st.sampled_from(["unallocated", "allocated", "shipped", "delivered"])}
)
_UNREAD_LINE = _UNREAD | st.fixed_dictionaries(
    {},
    optional={
        "quantities": st.fixed_dictionaries(
            {"ordered": st.just(2)},
            optional={b: st.integers(0, 2) for b in ("allocated", "return_initiated")},
        )
    },
)


@given(header=_UNREAD_HEADER, line=_UNREAD_LINE, alloc=_UNREAD, shipment=_UNREAD, payment=_UNREAD)
def test_whatever_changes_outside_what_the_facts_read_leaves_the_facts_as_they_were(
    header: dict[str, Any],
    line: dict[str, Any],
    alloc: dict[str, Any],
    shipment: dict[str, Any],
    payment: dict[str, Any],
):
    base = OrderRecord(header=HEADER, lines=[LINE], others={"ALLOC": [ALLOC], "SHP": [SHIPMENT]})
    changed = OrderRecord(
        header=HEADER | header,
        lines=[LINE | line],
        others={"ALLOC": [ALLOC | alloc], "SHP": [SHIPMENT | shipment], "PAY": [{"sk": "PAY#pay_1", **payment}]},
    )
    assert order_facts(changed) == order_facts(base)
    for old, new in ((HEADER, HEADER | header), (LINE, LINE | line), (ALLOC, ALLOC | alloc)):
        assert not may_change_facts(old, new)
