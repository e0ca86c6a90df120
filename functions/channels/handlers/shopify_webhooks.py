"""POST /v1/webhooks/channels/shopify: Shopify's order webhooks.

No API key: Shopify's HMAC of the raw body, with the secret of the shop named in
``X-Shopify-Shop-Domain``, is the credential (401 if missing or wrong; nothing stored).
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.channels.logic.shopify_orders import receive_shopify_webhook
from shared.api.app import build_app
from shared.observability import logger
from shared.tracing import tracer

router = APIGatewayRouter()


def _raw_body() -> bytes:
    """The bytes Shopify signed (API Gateway may pass them base64-encoded)."""
    event = router.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode()


@router.post(
    "/v1/webhooks/channels/shopify",
    summary="Shopify order webhooks (orders/create, orders/updated, orders/cancelled), HMAC-signed",
    tags=["channels"],
    responses={
        401: {"description": "Missing or invalid X-Shopify-Hmac-Sha256, or unknown shop; nothing stored"},
        422: {"description": "The order cannot be captured (no shipping address, unsupported currency ...)"},
    },
)
def post_shopify_webhook() -> dict[str, Any]:
    return receive_shopify_webhook(_raw_body(), dict(router.current_event.headers or {}))


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
