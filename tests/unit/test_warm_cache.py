"""Warm caches: loaded once per key and time to live, cleared all at once."""

from __future__ import annotations

import threading

import pytest

from shared import warm_cache
from shared.warm_cache import WarmCache, warm


def test_a_value_is_loaded_once_per_key_until_reset():
    loads: list[str] = []
    cache = WarmCache("test_loaded_once", lambda key: loads.append(str(key)) or f"value of {key}")
    assert [cache.get("a"), cache.get("a"), cache.get("b")] == ["value of a", "value of a", "value of b"]
    assert loads == ["a", "b"]
    warm_cache.reset_all()
    cache.get("a")
    assert loads == ["a", "b", "a"]


def test_a_value_past_its_time_to_live_is_loaded_again(monkeypatch: pytest.MonkeyPatch):
    now = [100.0]
    monkeypatch.setattr(warm_cache.time, "monotonic", lambda: now[0])
    loads = iter(range(10))

    @warm("test_ttl", ttl_seconds=60)
    def counter() -> int:
        return next(loads)

    assert counter.get() == 0
    now[0] += 59
    assert counter.get() == 0
    now[0] += 2
    assert counter.get() == 1


def test_threads_that_miss_together_load_once():
    started = threading.Barrier(8)
    loads: list[int] = []

    def slow(_key: object) -> int:
        loads.append(1)
        return len(loads)

    cache = WarmCache("test_single_flight", slow)

    def get() -> None:
        started.wait()
        cache.get()

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == [1]


def test_every_warm_value_of_the_functions_is_registered():
    import functions.allocate.logic.planning
    import functions.allocate.logic.policy
    import functions.changes.store
    import functions.payments.gateways.registry  # noqa: F401
    import shared.api.api_keys
    import shared.api.idempotency
    import shared.integration_secrets  # noqa: F401

    assert {
        "api_keys",
        "aws_clients",
        "change_policy",
        "idempotency_store",
        "integration_secrets",
        "locations",
        "payment_gateways",
        "routing_policy",
        "settings",
    } <= set(warm_cache.names())


def test_a_name_is_registered_once():
    WarmCache("test_unique", lambda _: 1)
    with pytest.raises(ValueError):
        WarmCache("test_unique", lambda _: 2)


def test_past_its_bound_the_oldest_loaded_value_goes_and_a_failed_load_keeps_nothing():
    loads: list[str] = []

    def load(key: object) -> str:
        loads.append(str(key))
        if key == "missing":
            raise LookupError(key)
        return str(key).upper()

    cache = WarmCache("test_bounded", load, max_entries=2)
    assert [cache.get("a"), cache.get("b"), cache.get("a"), cache.get("c")] == ["A", "B", "A", "C"]
    assert cache.get("b") == "B" and cache.get("c") == "C"  # still there
    assert loads == ["a", "b", "c"]
    assert cache.get("a") == "A" and loads[-1] == "a"  # "a" was the oldest: loaded again
    for _ in range(2):
        with pytest.raises(LookupError):
            cache.get("missing")
    assert loads[-2:] == ["missing", "missing"]
