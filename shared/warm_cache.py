"""Values a function keeps warm between invocations, in one registry with one reset.

A Lambda execution environment serves many invocations; what it read once (a policy, a
secret, the API keys) it keeps for a while instead of reading it on every request. Each
such value is a ``WarmCache`` with its name and time to live; tests and the local stack
clear them all at once with ``reset_all`` (a policy saved in one test is not seen by the
next one through a stale copy).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")

_registry: dict[str, WarmCache[object]] = {}


class WarmCache(Generic[T]):
    """``get(key)`` returns ``load(key)``, loading again once ``ttl_seconds`` have passed; a
    load that raises keeps nothing."""

    def __init__(
        self,
        name: str,
        load: Callable[[Hashable], T],
        *,
        ttl_seconds: float | Callable[[], float] | None = None,
        max_entries: int | None = None,
    ) -> None:
        if name in _registry:
            raise ValueError(f"a warm cache named {name!r} exists already")
        self.name = name
        self._load = load
        self._ttl = ttl_seconds
        # Keyed by an id that keeps coming (an order's, say): the oldest go first past the bound.
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, T]] = {}
        _registry[name] = self  # type: ignore[assignment]

    def _fresh(self, loaded_at: float) -> bool:
        ttl = self._ttl() if callable(self._ttl) else self._ttl
        return ttl is None or time.monotonic() - loaded_at < ttl

    def get(self, key: Hashable = None) -> T:
        hit = self._values.get(key)
        if hit and self._fresh(hit[0]):
            return hit[1]
        # Threads that miss together wait for the first load instead of each making its own.
        with self._lock:
            hit = self._values.get(key)
            if hit and self._fresh(hit[0]):
                return hit[1]
            value = self._load(key)
            self._values.pop(key, None)  # a reload goes to the back of the line
            self._values[key] = (time.monotonic(), value)
            if self._max_entries is not None and len(self._values) > self._max_entries:
                del self._values[next(iter(self._values))]
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def warm(name: str, *, ttl_seconds: float | None = None) -> Callable[[Callable[[], T]], WarmCache[T]]:
    """Decorate a loader without arguments: ``@warm("routing_policy", ttl_seconds=60)``."""

    def register(load: Callable[[], T]) -> WarmCache[T]:
        return WarmCache(name, lambda _key: load(), ttl_seconds=ttl_seconds)

    return register


def reset_all() -> None:
    for cache in _registry.values():
        cache.clear()


def names() -> list[str]:
    return sorted(_registry)
