"""AWS clients, created on first use (never at import time) and reused across invocations.

boto3 reads ``AWS_ENDPOINT_URL`` itself, which is how the same code talks to the local
stack.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from shared.warm_cache import WarmCache

_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=10,
    max_pool_connections=32,
)


# Creating a client reads its service model from disk (tens of ms): threads that start
# together wait for the first one instead of each building its own (the cache's lock).
_clients = WarmCache("aws_clients", lambda service: boto3.session.Session().client(service, config=_CONFIG))


def client(service: str) -> Any:
    return _clients.get(service)


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or mocks)."""
    _clients.clear()
