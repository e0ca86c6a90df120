import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import split_largest_remainder

weights = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=60)
amounts = st.integers(min_value=0, max_value=10**12)


@given(amounts, weights)
def test_parts_add_up_exactly(amount, ws):
    assert sum(split_largest_remainder(amount, ws)) == amount


@given(amounts, weights)
def test_each_part_is_within_one_unit_of_its_exact_share(amount, ws):
    parts = split_largest_remainder(amount, ws)
    total = sum(ws) or len(ws)
    effective = ws if sum(ws) else [1] * len(ws)
    for part, w in zip(parts, effective, strict=True):
        exact_floor = amount * w // total
        assert exact_floor <= part <= exact_floor + 1
        assert part >= 0


@given(amounts, weights)
def test_zero_weight_gets_nothing_when_others_weigh(amount, ws):
    if sum(ws) == 0:
        return
    parts = split_largest_remainder(amount, ws)
    assert all(p == 0 for p, w in zip(parts, ws, strict=True) if w == 0)


@given(amounts, weights)
def test_deterministic(amount, ws):
    assert split_largest_remainder(amount, ws) == split_largest_remainder(amount, ws)


def test_hand_computed_examples():
    assert split_largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    assert split_largest_remainder(1000, [3000, 2000, 1000]) == [500, 333, 167]
    assert split_largest_remainder(5, [0, 0]) == [3, 2]
    assert split_largest_remainder(0, [5, 7]) == [0, 0]


def test_refuses_negative_and_impossible_splits():
    with pytest.raises(ValueError):
        split_largest_remainder(-1, [1])
    with pytest.raises(ValueError):
        split_largest_remainder(1, [-1, 2])
    with pytest.raises(ValueError):
        split_largest_remainder(1, [])
