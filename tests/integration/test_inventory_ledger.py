"""Property: stock stored through functions/inventory/store/stock.py equals a plain ledger replay of the
same events, and the events DynamoDB refused are exactly those the ledger refuses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.inventory.store import StockConflict, adjust_stock, get_stock, release, reserve, set_stock, ship

LOCATION = "wh-ledger"


@dataclass
class Ledger:
    exists: bool = False
    on_hand: int = 0
    reserved: int = 0
    safety: int = 0
    as_of: int | None = None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.safety

    def apply(self, event: tuple) -> bool:
        """The event's effect; False if it is refused (or ignored, for a stale absolute update)."""
        kind, *args = event
        if kind == "set":
            on_hand, safety, as_of = args
            if self.as_of is not None and as_of <= self.as_of:
                return False
            self.safety = safety if safety is not None else (self.safety if self.exists else 0)
            self.on_hand, self.as_of, self.exists = on_hand, as_of, True
            return True
        if kind == "adjust":
            (delta,) = args
            if delta < 0 and self.on_hand < -delta:
                return False
            self.on_hand += delta
            self.exists = True
            return True
        (quantity,) = args
        if kind == "reserve" and self.exists and self.available >= quantity:
            self.reserved += quantity
        elif kind == "release" and self.exists and self.reserved >= quantity:
            self.reserved -= quantity
        elif kind == "ship" and self.exists and self.reserved >= quantity and self.on_hand >= quantity:
            self.reserved -= quantity
            self.on_hand -= quantity
        else:
            return False
        return True


def stamp(minute: int) -> str:
    return f"2024-05-01T10:{minute:02d}:00Z"


def apply(sku: str, event: tuple) -> bool:
    kind, *args = event
    try:
        if kind == "set":
            on_hand, safety, minute = args
            return set_stock(LOCATION, sku, on_hand, safety, stamp(minute)).applied
        if kind == "adjust":
            adjust_stock(LOCATION, sku, args[0], "count")
        else:
            {"reserve": reserve, "release": release, "ship": ship}[kind](sku, LOCATION, args[0])
    except StockConflict:
        return False
    return True


quantities = st.integers(min_value=1, max_value=4)
events = st.one_of(
    st.tuples(
        st.just("set"),
        st.integers(min_value=0, max_value=12),
        st.none() | st.integers(min_value=0, max_value=3),
        st.integers(min_value=0, max_value=59),
    ),
    st.tuples(st.just("adjust"), st.integers(min_value=-5, max_value=5).filter(bool)),
    st.tuples(st.just("reserve"), quantities),
    st.tuples(st.just("release"), quantities),
    st.tuples(st.just("ship"), quantities),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(events, min_size=1, max_size=14))
def test_stored_stock_equals_the_ledger_replay(aws, history):
    sku = f"P-{uuid.uuid4().hex[:12]}"  # a fresh item per example: the table outlives examples
    ledger = Ledger()
    for event in history:
        assert apply(sku, event) == ledger.apply(event), event
    stored = get_stock(sku, LOCATION)
    if not ledger.exists:
        assert stored is None
        return
    assert stored is not None
    assert (stored.on_hand, stored.reserved, stored.safety_stock, stored.available) == (
        ledger.on_hand,
        ledger.reserved,
        ledger.safety,
        ledger.available,
    )
    assert stored.available_to_promise == max(0, ledger.available)
    assert stored.on_hand >= 0 and stored.reserved >= 0
