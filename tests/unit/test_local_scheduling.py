"""How the local stack shares two cores: warm environments before new ones for functions a
caller waits on, and the emulator serving those functions' requests first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local import environments as environments_module
from infra.local.environments import Environments, _Environment
from infra.local.priority import Middleware, RequestPriority
from infra.local.requests_meter import caller_of


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
    assert manager.waits_on("oms-CaptureApi")


def test_the_reserved_concurrency_still_throttles_a_caller(pools) -> None:
    manager, _ = pools
    pool = manager.pool("oms-Limited", {}, limit=1, background=False)
    pool.acquire(wait=False)
    with pytest.raises(environments_module.Throttled):
        pool.acquire(wait=False)


def test_only_functions_invoked_for_a_caller_are_waited_on(pools) -> None:
    manager, _ = pools
    manager.pool("oms-AdvanceOrder", {}, limit=None, background=True)
    manager.pool("oms-CaptureApi", {}, limit=None, background=False)
    assert manager.waits_on("oms-CaptureApi")
    assert not manager.waits_on("oms-AdvanceOrder")
    assert not manager.waits_on("oms-NeverInvoked")


def _environ(function: str | None) -> dict[str, Any]:
    agent = "Boto3/1.35 md/Botocore#1.35 ua/2.0 os/linux" + (f" app/{function}" if function else "")
    return {"HTTP_USER_AGENT": agent, "REQUEST_METHOD": "POST", "PATH_INFO": "/"}


class _Recorder:
    """A WSGI app that notes when each caller's request starts and ends; ``hold`` keeps one running."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.hold: dict[str, threading.Event] = {}
        self.started: dict[str, threading.Event] = {}
        self.closed: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        caller = caller_of(environ) or "-"
        self.log.append(f"{caller} starts")
        self.started.setdefault(caller, threading.Event()).set()
        return self._answer(caller)

    def _answer(self, caller: str) -> Iterator[bytes]:
        try:
            if caller in self.hold:
                self.hold[caller].wait(10)
            yield b"{}"
            self.log.append(f"{caller} ends")
        finally:
            self.closed.append(caller)


def _serve(app: Middleware, function: str | None) -> threading.Thread:
    thread = threading.Thread(target=lambda: list(app(_environ(function), lambda *_: None)))
    thread.start()
    return thread


def test_a_background_request_starts_after_the_callers_request_in_flight() -> None:
    """A request of a function nobody waits on, arriving while an API function's request runs,
    waits for it to end; a request of no function is served at once all the same."""
    recorder = _Recorder()
    recorder.hold["oms-CaptureApi"] = threading.Event()
    app = Middleware(recorder, RequestPriority(lambda name: name == "oms-CaptureApi", hold_seconds=30.0))
    api = _serve(app, "oms-CaptureApi")
    assert recorder.started.setdefault("oms-CaptureApi", threading.Event()).wait(10)
    background = _serve(app, "oms-AdvanceOrder")
    outside = _serve(app, None)
    outside.join(10)
    background.join(0.3)
    assert background.is_alive()  # still held back
    assert recorder.log == ["oms-CaptureApi starts", "- starts", "- ends"]
    recorder.hold["oms-CaptureApi"].set()
    api.join(10)
    background.join(10)
    assert recorder.log[3:] == ["oms-CaptureApi ends", "oms-AdvanceOrder starts", "oms-AdvanceOrder ends"]
    assert sorted(recorder.closed) == ["-", "oms-AdvanceOrder", "oms-CaptureApi"]


def test_a_background_request_is_held_back_for_a_bounded_time_only() -> None:
    """An API request that never ends does not stop background work: it waits its hold, then runs."""
    recorder = _Recorder()
    recorder.hold["oms-CaptureApi"] = threading.Event()
    priority = RequestPriority(lambda name: name == "oms-CaptureApi", hold_seconds=0.05)
    app = Middleware(recorder, priority)
    api = _serve(app, "oms-CaptureApi")
    assert recorder.started.setdefault("oms-CaptureApi", threading.Event()).wait(10)
    background = _serve(app, "oms-AdvanceOrder")
    background.join(10)
    assert not background.is_alive()
    assert recorder.log == ["oms-CaptureApi starts", "oms-AdvanceOrder starts", "oms-AdvanceOrder ends"]
    assert priority.held_seconds > 0
    recorder.hold["oms-CaptureApi"].set()
    api.join(10)


def test_a_background_request_with_no_api_request_in_flight_is_not_held() -> None:
    recorder = _Recorder()
    priority = RequestPriority(lambda name: name == "oms-CaptureApi", hold_seconds=30.0)
    assert list(Middleware(recorder, priority)(_environ("oms-AdvanceOrder"), lambda *_: None)) == [b"{}"]
    assert priority.held_seconds == 0.0
