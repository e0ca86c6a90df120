"""HTTP entry point of payment providers: POST /v1/webhooks/payments/{provider}.

No API key: the provider's signature on the raw body is the credential (401 if it is
missing or wrong, and nothing is stored).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.payments.logic.webhook_events import process_webhook
from shared.api.app import build_app
from shared.api.validation import path_id
from shared.observability import logger
from shared.tracing import tracer

router = APIGatewayRouter()


def _raw_body() -> bytes:
    event = router.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode()


@router.post(
    "/v1/webhooks/payments/<provider>",
    summary="Payment provider events (signed by the provider)",
    tags=["payments"],
    responses={
        200: {"description": "Processed (or ignored: an event of no concern, or one seen before)"},
        401: {"description": "Missing or invalid signature"},
        404: {"description": "Unknown provider"},
        503: {"description": "Another delivery of the event is being applied: deliver it again later"},
    },
)
def post_payment_event(provider: Annotated[str, Path()]) -> dict[str, Any]:
    provider = path_id("provider", provider)
    outcome = process_webhook(provider, _raw_body(), dict(router.current_event.headers or {}))
    logger.info("payment webhook", extra={"provider": provider, **outcome})
    return outcome


app = build_app(router, json_bodies=False)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
