"""How the local stack shares two cores: warm environments before new ones for functions a
caller waits on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from infra.local import environments as environments_module
from infra.local.environments import Environments, _Environment


class _Process:
    alive = True

    def is_alive(self) -> bool:
        return self.alive

    def join(self, timeout: float | None = None) -> None:
        self.alive = False

    def kill(self) -> None:
        self.alive = False


class _Connection:
    def send(self, message: object) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Environments, list[_Environment]]]:
    """Environments whose new environments are stand-ins (no process is started), each recorded."""
    monkeypatch.setattr(environments_module.atexit, "register", lambda *_: None)
    manager = Environments(caller_environments=1, warm_wait_seconds=30.0)
    started: list[_Environment] = []

    def spawn(env: dict[str, str], niceness: int = 0) -> _Environment:
        environment = _Environment(_Process(), conn=_Connection())  # type: ignore[arg-type]
        started.append(environment)
        return environment

    monkeypatch.setattr(manager, "spawn", spawn)
    yield manager, started
    manager._closed = True
    manager.pools.clear()


def test_a_caller_waits_for_the_busy_environment_rather_than_starting_another(pools) -> None:
    """Past its caller environments a synchronous invocation takes the environment that comes
    free: one environment served both. Without the cap a second one is started at once."""
    manager, started = pools
    pool = manager.pool("oms-CaptureApi", {}, limit=None, background=False)
    first = pool.acquire(wait=False)
    second: list[_Environment] = []
    waiter = threading.Thread(target=lambda: second.append(pool.acquire(wait=False)))
    waiter.start()
    waiter.join(timeout=0.3)
    assert waiter.is_alive() and not second  # waiting, not throttled, nothing started
    pool.release(first)
    waiter.join(timeout=10)
    assert second == [first]
    assert len(started) == 1


def test_a_caller_gets_a_new_environment_when_none_comes_free_in_time(pools) -> None:
    """The wait is bounded: a busy machine never leaves the caller without an environment."""
    manager, started = pools
    manager.warm_wait_seconds = 0.05
    pool = manager.pool("oms-CaptureApi", {}, limit=None, background=False)
    first = pool.acquire(wait=False)
    second = pool.acquire(wait=False)
    assert second is not first and started == [first, second]


def test_the_reserved_concurrency_still_throttles_a_caller(pools) -> None:
    manager, _ = pools
    pool = manager.pool("oms-Limited", {}, limit=1, background=False)
    pool.acquire(wait=False)
    with pytest.raises(environments_module.Throttled):
        pool.acquire(wait=False)


def _waiting(pool, got: list[_Environment], wait: bool = False) -> threading.Thread:
    """An invocation waiting for the pool's environment, in a thread of its own (``wait``: an
    event source's, which waits where a caller's would be throttled)."""
    before = len(pool.waiting)
    thread = threading.Thread(target=lambda: got.append(pool.acquire(wait=wait)), daemon=True)
    thread.start()
    for _ in range(1000):
        if len(pool.waiting) > before:
            return thread
        time.sleep(0.01)
    raise AssertionError("the invocation never started waiting")


def test_an_environment_that_comes_free_goes_to_the_caller_that_waited_not_to_a_newcomer(pools) -> None:
    """Released while a caller waits, the environment is that caller's, even though a new
    invocation asks before the waiting one wakes. Left free for whoever took it first, the
    newcomer took it and the waiter waited on: some captures waited seconds at 32 clients."""
    manager, started = pools
    pool = manager.pool("oms-CaptureApi", {}, limit=None, background=False)
    first = pool.acquire(wait=False)
    waiter_got: list[_Environment] = []
    waiter = _waiting(pool, waiter_got)
    manager.warm_wait_seconds = 0.2
    with manager.lock:  # the waiter cannot wake before the newcomer asks
        pool.release(first)
        newcomer = pool.acquire(wait=False)
    waiter.join(timeout=10)
    assert waiter_got == [first]
    assert newcomer is not first and started == [first, newcomer]


def test_waiting_callers_are_served_in_the_order_they_came(pools) -> None:
    manager, started = pools
    pool = manager.pool("oms-CaptureApi", {}, limit=None, background=False)
    environment = pool.acquire(wait=False)
    served: list[list[_Environment]] = [[] for _ in range(5)]
    for got in served:
        _waiting(pool, got)
    order: list[int] = []
    for _ in served:
        pool.release(environment)
        ready: list[int] = []
        for _ in range(1000):
            if ready := [i for i, got in enumerate(served) if got and i not in order]:
                break
            time.sleep(0.01)
        order.extend(ready)
        environment = served[ready[0]][0]
    assert order == [0, 1, 2, 3, 4]
    assert started == [environment]


def test_a_waiter_handed_an_environment_that_died_gets_a_new_one(pools) -> None:
    manager, started = pools
    pool = manager.pool("oms-CaptureApi", {}, limit=None, background=False)
    first = pool.acquire(wait=False)
    got: list[_Environment] = []
    waiter = _waiting(pool, got)
    with manager.lock:
        pool.release(first)
        first.process.alive = False  # died before the waiter woke
    waiter.join(timeout=10)
    assert got and got[0] is not first and started == [first, got[0]]
    assert pool.size == 1 and manager.total == 1


class _CountedWaiter(environments_module._Waiter):
    """A waiting invocation that counts the times it is woken."""

    __slots__ = ()
    woken_times: list[int] = []

    def __init__(self, lock: threading.RLock):
        super().__init__(lock)
        notify = self.woken.notify

        def counted(n: int = 1) -> None:
            _CountedWaiter.woken_times.append(1)
            notify(n)

        self.woken.notify = counted  # type: ignore[method-assign]


def test_an_environment_left_idle_does_not_wake_another_functions_queued_invocations(pools, monkeypatch) -> None:
    """An invocation queued behind its own function's busy environments can go on only when
    one of those comes free. Woken by every other function's idle environment, each waiting
    invocation woke and waited again about 120 times an order at 8 clients."""
    manager, _ = pools
    monkeypatch.setattr(environments_module, "_Waiter", _CountedWaiter)
    monkeypatch.setattr(_CountedWaiter, "woken_times", [])
    manager.background_environments = 1
    queued = manager.pool("oms-Projector", {}, limit=None, background=True)
    busy = queued.acquire(wait=True)
    got: list[_Environment] = []
    _waiting(queued, got, wait=True)
    other = manager.pool("oms-CaptureApi", {}, limit=None, background=False)
    for _ in range(20):
        other.release(other.acquire(wait=False))
    assert _CountedWaiter.woken_times == [] and not got
    queued.release(busy)
    for _ in range(1000):
        if got:
            break
        time.sleep(0.01)
    assert got == [busy] and len(_CountedWaiter.woken_times) == 1


def test_at_the_account_limit_an_invocation_takes_another_functions_idle_environment(pools) -> None:
    manager, started = pools
    manager.account_limit = 1
    first = manager.pool("oms-CaptureApi", {}, limit=None, background=False)
    environment = first.acquire(wait=False)
    second = manager.pool("oms-Projector", {}, limit=None, background=True)
    got: list[_Environment] = []
    waiter = _waiting(second, got, wait=True)
    first.release(environment)  # idle now: the account's one environment may be reclaimed
    waiter.join(timeout=10)
    assert got and got[0] is not environment and started == [environment, got[0]]
    assert first.size == 0 and second.size == 1 and manager.total == 1


def test_a_waiting_invocation_goes_on_when_its_functions_environment_is_gone(pools) -> None:
    """An environment that died makes room under the function's reserved concurrency."""
    manager, started = pools
    pool = manager.pool("oms-Limited", {}, limit=1, background=True)
    environment = pool.acquire(wait=True)
    got: list[_Environment] = []
    waiter = _waiting(pool, got, wait=True)
    pool.release(None)  # the environment exited
    waiter.join(timeout=10)
    assert got and got[0] is not environment and started == [environment, got[0]]
    assert pool.size == 1 and manager.total == 1
