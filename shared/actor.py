"""Who is acting: the caller's principal for the length of one request, ``system`` otherwise.

The API app sets it around each request it resolves; the order timeline writes it on every
event, so no handler has to pass it along. Workflow steps, stream and queue consumers run
outside a request and record ``system``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SYSTEM = "system"

_actor: ContextVar[str] = ContextVar("actor", default=SYSTEM)


def current_actor() -> str:
    return _actor.get()


@contextmanager
def acting_as(actor: str | None) -> Iterator[str]:
    """``actor`` for everything written inside the block (``system`` when empty)."""
    token = _actor.set(actor or SYSTEM)
    try:
        yield _actor.get()
    finally:
        _actor.reset(token)
