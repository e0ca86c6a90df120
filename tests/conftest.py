"""What every test process shares: botocore's data files read once, and the order tests start in."""

from __future__ import annotations

import functools
import types
import weakref
from typing import Any

import pytest
from botocore import compat, hooks, loaders

# Every new boto3 session (each test's clients, each handler's clients after a test resets
# them) read and parsed botocore's endpoints file again (about 0.1 s of CPU per session), and
# checked the signature of every one of its ~140 built-in event handlers. The file's content
# and the handlers' signatures do not change within a process: read and check each once.
_read_data: dict[tuple[tuple[str, ...], str], Any] = {}
_load_data_with_path = loaders.Loader.load_data_with_path


@functools.wraps(_load_data_with_path)
def _data_with_path(self: loaders.Loader, name: str) -> Any:
    key = (tuple(self.search_paths), name)
    found = _read_data.get(key)
    if found is None:
        found = _read_data[key] = _load_data_with_path(self, name)
    return found


_accepts: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _accepts_kwargs(func: Any) -> bool:
    # Keyed by the function itself (a bound method by its function: the same signature's
    # ``**kwargs``), never by a handler's instance, which the cache would keep alive.
    target = getattr(func, "__func__", func)
    if not isinstance(target, types.FunctionType):
        return bool(compat.accepts_kwargs(func))
    found = _accepts.get(target)
    if found is None:
        found = _accepts[target] = bool(compat.accepts_kwargs(func))
    return found


loaders.Loader.load_data_with_path = _data_with_path  # type: ignore[method-assign]
hooks.accepts_kwargs = _accepts_kwargs  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests first (each module whole, in its usual order, so its fixtures are
    set up once): with ``--dist worksteal`` the workers share the long tests out from the start
    and finish together, instead of one worker running a two-minute test alone at the end."""
    slow_modules = {item.module for item in items if item.get_closest_marker("slow") is not None}  # type: ignore[attr-defined]
    items.sort(key=lambda item: getattr(item, "module", None) not in slow_modules)
