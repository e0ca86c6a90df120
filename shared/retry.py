"""Trying again after a lost race or a transient refusal, with jittered exponential backoff.

Writers that collided and retry at once collide again. Each retry therefore waits a
random while in ``[0, min(cap, base * 2**n))`` ("full jitter", AWS Architecture Blog,
"Exponential Backoff And Jitter"), so one of them gets through. Two forms, one policy:

- ``attempts(n)`` for a loop whose body reads, decides and writes, and ``continue``s when
  the write lost: ``for _ in attempts(3): ...`` (no wait before the first attempt);
- ``retry(fn, on=...)`` for a call that raises on a lost race.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

# In a request or a step, a retry of a lost race needs milliseconds, not seconds: the
# other writer has committed by then.
BASE_SECONDS = 0.01
CAP_SECONDS = 0.5

_random = random.Random()


def delay(
    retry: int, *, base: float = BASE_SECONDS, cap: float = CAP_SECONDS, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number ``retry`` (0 for the first retry): full jitter."""
    return (rng or _random).uniform(0, min(cap, base * 2**retry))


def attempts(
    count: int, *, base: float = BASE_SECONDS, cap: float = CAP_SECONDS, rng: random.Random | None = None
) -> Iterator[int]:
    """Yield attempt numbers 0 .. count-1, waiting a jittered, growing while before each
    one after the first. The loop body decides what a failed attempt is (it goes on to the
    next); what follows the loop is what happens when every attempt failed."""
    if count < 1:
        raise ValueError("at least one attempt")
    for number in range(count):
        if number:
            time.sleep(delay(number - 1, base=base, cap=cap, rng=rng))
        yield number


def retry(
    fn: Callable[[], T],
    *,
    on: type[BaseException] | tuple[type[BaseException], ...],
    count: int,
    gave_up: Callable[[BaseException], BaseException] | None = None,
    base: float = BASE_SECONDS,
    cap: float = CAP_SECONDS,
    rng: random.Random | None = None,
) -> T:
    """``fn()``, tried again (with backoff) while it raises one of ``on``, ``count`` times in
    all; then ``gave_up(last error)`` is raised from it, or the last error itself."""
    last: BaseException | None = None
    for _ in attempts(count, base=base, cap=cap, rng=rng):
        try:
            return fn()
        except on as err:
            last = err
    assert last is not None
    if gave_up is None:
        raise last
    raise gave_up(last) from last
