"""``Idempotency-Key`` for mutating endpoints, on Powertools idempotency over the table.

The key is scoped to the caller, the body is the payload that must match: a replay with
the same key and body returns the first response; the same key with another body is 409.
Records live under one partition key with the hashed key as sort key (DynamoDB splits a
hot partition by sort key), and expire through the table's TTL attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
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
from shared.warm_cache import WarmCache

MAX_KEY_LENGTH = 255


def _new_persistence() -> DynamoDBPersistenceLayer:
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
# time), and the operation's explicit name is part of the key instead.
_operation: ContextVar[Callable[[dict[str, Any]], dict[str, Any]]] = ContextVar("idempotent_operation")


def _run(request: dict[str, Any]) -> dict[str, Any]:
    return _operation.get()(request["body"])


def _new_wrapped() -> Callable[..., dict[str, Any]]:
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
        use_local_cache=False,
    )
    store = _persistence.get()
    return idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)(_run)


_persistence = WarmCache("idempotency_store", lambda _: _new_persistence())
_wrapped = WarmCache("idempotent_wrapper", lambda _: _new_wrapped())


def run_idempotent(
    operation: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    name: str,
    key: str | None,
    scope: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Run ``operation(body)`` once per (name, scope, key); without a key it simply runs.

    ``name`` is part of every stored record's key: a stable string per operation (renaming
    it forgets the records kept under the old one)."""
    if key is None:
        return operation(body)
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise MalformedInput(
            "Idempotency-Key must be 1 to 255 characters",
            errors=[{"field": "Idempotency-Key", "message": "1 to 255 characters"}],
        )
    token = _operation.set(operation)
    try:
        return _wrapped.get()(request={"key": f"{name}:{scope}:{key}", "body": body})
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
