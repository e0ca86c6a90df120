"""AWS clients, created on first use (never at import time) and reused across invocations.

boto3 reads ``AWS_ENDPOINT_URL`` itself, which is how the same code talks to the local
stack.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=10,
    max_pool_connections=32,
)


_clients: dict[str, Any] = {}
# Creating a client reads its service model from disk (tens of ms): threads that start
# together wait for the first one instead of each building its own.
_creating = threading.Lock()


def client(service: str) -> Any:
    found = _clients.get(service)
    if found is None:
        with _creating:
            found = _clients.get(service)
            if found is None:
                found = _clients[service] = boto3.session.Session().client(service, config=_CONFIG)
    return found


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or mocks)."""
    with _creating:
        _clients.clear()
