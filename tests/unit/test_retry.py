"""shared/retry.py: jittered exponential backoff between attempts."""

from __future__ import annotations

import random

import pytest

from shared import retry as retry_module
from shared.retry import attempts, delay, retry


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(retry_module.time, "sleep", waits.append)
    return waits


def test_delays_are_full_jitter_under_a_doubling_ceiling_and_the_cap():
    rng = random.Random(7)
    for n in range(12):
        ceiling = min(0.5, 0.01 * 2**n)
        drawn = [delay(n, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in drawn)
        # Full jitter spreads over the whole range, not around a fixed point.
        assert min(drawn) < ceiling * 0.1 and max(drawn) > ceiling * 0.9


def test_attempts_wait_before_every_attempt_but_the_first(slept: list[float]):
    seen = []
    for number in attempts(4, base=1.0, cap=3.0, rng=random.Random(1)):
        seen.append(number)
    assert seen == [0, 1, 2, 3]
    assert len(slept) == 3
    assert [d <= c for d, c in zip(slept, [1.0, 2.0, 3.0], strict=True)] == [True] * 3


def test_attempts_stop_waiting_once_the_body_succeeds(slept: list[float]):
    for number in attempts(5):
        if number == 1:
            break
    assert len(slept) == 1


def test_attempts_refuse_zero():
    with pytest.raises(ValueError):
        list(attempts(0))


class Lost(Exception):
    pass


def test_retry_returns_the_first_success_after_lost_races(slept: list[float]):
    calls = iter([Lost(), Lost(), "done"])

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry(flaky, on=Lost, count=3) == "done"
    assert len(slept) == 2


def test_retry_gives_up_with_the_callers_error_chained_to_the_last(slept: list[float]):
    def always() -> None:
        raise Lost("again")

    with pytest.raises(RuntimeError, match="kept changing") as raised:
        retry(always, on=Lost, count=3, gave_up=lambda err: RuntimeError("kept changing"))
    assert isinstance(raised.value.__cause__, Lost)
    assert len(slept) == 2


def test_retry_reraises_the_last_error_without_gave_up(slept: list[float]):
    def always() -> None:
        raise Lost("again")

    with pytest.raises(Lost):
        retry(always, on=Lost, count=2)


def test_retry_lets_other_errors_through_at_once(slept: list[float]):
    def broken() -> None:
        raise KeyError("not a race")

    with pytest.raises(KeyError):
        retry(broken, on=Lost, count=5)
    assert slept == []
