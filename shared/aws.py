"""AWS clients, created on first use (never at import time) and reused across invocations.

boto3 reads ``AWS_ENDPOINT_URL`` itself, which is how the same code talks to the local
stack.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from shared.dynamodb_responses import ResponseParsers
from shared.warm_cache import WarmCache

_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=10,
    max_pool_connections=32,
)


def _new_session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("response_parser_factory", ResponseParsers())
    return boto3.session.Session(botocore_session=core)


# The table validates its own requests (shared/table.py _RequestValidator) without walking
# every attribute of every item again; its requests are the only DynamoDB requests but for
# the idempotency records' (Powertools'), which DynamoDB validates on arrival as always.
_SERVICE_CONFIGS = {"dynamodb": _CONFIG.merge(Config(parameter_validation=False))}


# One session for all of a process's clients: a session registers hundreds of event
# handlers and loads the endpoint data when it makes its first client (~100 ms of CPU);
# the clients it makes after that share both.
_session = WarmCache("aws_session", lambda _: _new_session())

# Creating a client reads its service model from disk (tens of ms): threads that start
# together wait for the first one instead of each building its own (the cache's lock,
# which also keeps the shared session to one client creation at a time).
_clients = WarmCache(
    "aws_clients",
    lambda service: _session.get().client(service, config=_SERVICE_CONFIGS.get(str(service), _CONFIG)),
)


def client(service: str) -> Any:
    return _clients.get(service)


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or mocks)."""
    _clients.clear()
    _session.clear()
