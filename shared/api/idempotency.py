"""``Idempotency-Key`` for mutating endpoints, on Powertools idempotency over the table.

The key is scoped to the caller, the body is the payload that must match: a replay with
the same key and body returns the first response; the same key with another body is 409.
Records live under one partition key with the hashed key as sort key (DynamoDB splits a
hot partition by sort key), and expire through the table's TTL attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import cache, lru_cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from shared.aws import client
from shared.errors import Conflict, MalformedInput
from shared.settings import get_settings

MAX_KEY_LENGTH = 255


@lru_cache(maxsize=1)
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(
        table_name=get_settings().table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value="IDEMPOTENCY",
        expiry_attr="ttl",
        boto3_client=client("dynamodb"),
    )


# The operation of the request being run: the idempotent wrapper is built once (the
# operations are closures made per request, so wrapping each would build a new one every
# time), and the operation's name is part of the key instead.
_operation: ContextVar[Callable[[dict[str, Any]], dict[str, Any]]] = ContextVar("idempotent_operation")


def _run(request: dict[str, Any]) -> dict[str, Any]:
    return _operation.get()(request["body"])


@cache
def _wrapped() -> Callable[..., dict[str, Any]]:
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
        use_local_cache=False,
    )
    return idempotent_function(data_keyword_argument="request", persistence_store=_persistence(), config=config)(_run)


def run_idempotent(
    operation: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    key: str | None,
    scope: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Run ``operation(body)`` once per (scope, key); without a key it simply runs."""
    if key is None:
        return operation(body)
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise MalformedInput(
            "Idempotency-Key must be 1 to 255 characters",
            errors=[{"field": "Idempotency-Key", "message": "1 to 255 characters"}],
        )
    token = _operation.set(operation)
    try:
        return _wrapped()(request={"key": f"{operation.__qualname__}:{scope}:{key}", "body": body})
    except IdempotencyValidationError as err:
        raise Conflict(
            "this Idempotency-Key was used with a different body",
            errors=[{"field": "Idempotency-Key", "message": "reused with a different body"}],
        ) from err
    except IdempotencyAlreadyInProgressError as err:
        raise Conflict(
            "a request with this Idempotency-Key is still in progress",
            errors=[{"field": "Idempotency-Key", "message": "in progress"}],
        ) from err
    finally:
        _operation.reset(token)
