"""Pickup codes and the no-show timer: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from functions.fulfill.logic.pickup_policy import PickupPolicy
from functions.fulfill.rules.pickup import (
    ALPHABET,
    CODE_LENGTH,
    code_hash,
    code_matches,
    derive_code,
    display,
    seconds_to_no_show,
)


def test_a_code_is_derived_again_the_same_and_differs_per_issue_order_and_key():
    code = derive_code(b"key", "fo_1", 1)
    assert code == derive_code(b"key", "fo_1", 1)
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    assert not set("IO01") & set(ALPHABET)
    assert (
        len({code, derive_code(b"key", "fo_1", 2), derive_code(b"key", "fo_2", 1), derive_code(b"other", "fo_1", 1)})
        == 4
    )


@given(st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH))
def test_the_code_matches_as_typed_at_the_counter_and_nothing_else_does(code):
    stored = code_hash("fo_1", code)
    assert code not in stored
    for typed in (code, code.lower(), display(code), f" {display(code).lower()} ", code[:4] + " " + code[4:]):
        assert code_matches(stored, "fo_1", typed)
    assert not code_matches(stored, "fo_2", code)  # a code is bound to its order
    assert not code_matches(stored, "fo_1", code[:-1])


def test_the_no_show_wait_counts_whole_seconds_and_never_zero():
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    policy = PickupPolicy(no_show_after_days=0.5)
    fo = {"no_show_at": policy.no_show_at(at).isoformat().replace("+00:00", "Z")}
    assert seconds_to_no_show(fo, at) == 12 * 3600
    assert seconds_to_no_show(fo, datetime(2026, 1, 1, 23, 59, 59, 500_000, tzinfo=UTC)) == 1
    assert seconds_to_no_show(fo, datetime(2026, 1, 2, tzinfo=UTC)) == 1  # past it: at once
