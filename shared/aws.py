"""AWS clients, created on first use (never at import time) and reused across invocations.

boto3 reads ``AWS_ENDPOINT_URL`` itself, which is how the same code talks to the local
stack.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=10,
    max_pool_connections=32,
)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or mocks)."""
    client.cache_clear()
