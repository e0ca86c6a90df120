"""How the local stack shares two cores: warm environments before new ones for functions a
caller waits on."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from infra.local import environments as environments_module
from infra.local.environments import Environments, _Environment


class _Process:
    def is_alive(self) -> bool:
        return True


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Environments, list[_Environment]]]:
    """Environments whose new environments are stand-ins (no process is started), each recorded."""
    monkeypatch.setattr(environments_module.atexit, "register", lambda *_: None)
    manager = Environments(caller_environments=1, warm_wait_seconds=30.0)
    started: list[_Environment] = []

    def spawn(env: dict[str, str], niceness: int = 0) -> _Environment:
        environment = _Environment(_Process(), conn=None)  # type: ignore[arg-type]
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
