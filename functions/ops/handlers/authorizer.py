"""API Gateway REQUEST authorizer: ``x-api-key`` -> principal (role, channel, locations)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ops.logic.api_keys import principal_for
from shared.observability import logger


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _allow_all(method_arn: str) -> str:
    # Cache-safe: the same key may call every route; the handlers check roles.
    arn, _, _ = method_arn.partition("/")
    return arn + "/*/*"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    principal = principal_for(_header(event, "x-api-key"))
    if principal is None:
        logger.info("unknown api key")
        raise Exception("Unauthorized")  # API Gateway answers 401 for exactly this message
    return {
        "principalId": principal.principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _allow_all(event["methodArn"])}
            ],
        },
        "context": principal.context(),
    }
