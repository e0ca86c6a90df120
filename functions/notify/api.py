"""What is read of notifications from outside: the local stack's outbox of an order."""

from __future__ import annotations

from functions.notify.store import list_outbox

__all__ = ["list_outbox"]
