"""POST /v1/webhooks/carriers/{carrier}: no API key, the carrier's HMAC of the raw body is
checked before anything else; verified events are queued (202) for TrackingEvents."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.fulfill.logic.carriers.intake import WebhookAccepted, receive_webhook
from shared.api.app import build_app
from shared.api.validation import path_id
from shared.observability import logger
from shared.tracing import tracer

router = APIGatewayRouter()


def _raw_body() -> bytes:
    """The bytes the carrier signed (API Gateway may pass them base64-encoded)."""
    event = router.current_event
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode()


@router.post(
    "/v1/webhooks/carriers/<carrier>",
    summary="Carrier tracking events (EasyPost, AfterShip or the generic format), HMAC-signed",
    description=(
        "No API key: the carrier signs the raw body. EasyPost `X-Hmac-Signature`, AfterShip"
        " `aftership-hmac-sha256`, any other carrier `X-OMS-Signature: sha256=<hex>` (docs/carrier-tracking.md)."
    ),
    tags=["fulfillment"],
    responses={
        202: {"description": "Queued", "content": {"application/json": {"model": WebhookAccepted}}},
        401: {"description": "Missing or bad signature; nothing stored"},
        404: {"description": "Unknown carrier"},
    },
)
def post_carrier_webhook(carrier: Annotated[str, Path()]) -> Response[dict[str, Any]]:
    carrier = path_id("carrier", carrier)
    accepted = receive_webhook(carrier, _raw_body(), dict(router.current_event.headers or {}))
    logger.info("carrier webhook queued", extra={"carrier": carrier, "events": accepted.accepted})
    return Response(status_code=202, content_type="application/json", body=accepted.model_dump(mode="json"))


app = build_app(router, json_bodies=False)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
