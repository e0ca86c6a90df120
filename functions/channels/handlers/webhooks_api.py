"""HTTP entry point of outbound webhooks: subscriptions, deliveries, replay (operators)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from functions.channels.logic.webhooks import (
    create_subscription,
    failed_deliveries,
    read_delivery,
    read_subscription,
    read_subscriptions,
    remove_subscription,
    replay_delivery,
)
from shared.api.app import build_app, current_caller, require_json_object
from shared.observability import logger
from shared.tracing import tracer

router = APIGatewayRouter()
TAGS = ["webhooks"]


class SubscriptionIn(BaseModel):
    url: str = Field(max_length=2048)
    events: list[str] = Field(min_length=1, max_length=100)


@router.post(
    "/v1/webhooks/subscriptions",
    summary="Subscribe a URL to domain events; the signing secret is in this answer only",
    tags=TAGS,
)
def post_subscription(subscription: Annotated[SubscriptionIn, Body()]) -> Response[dict[str, Any]]:
    require_json_object(router)
    view = create_subscription(current_caller(router), subscription.url, subscription.events)
    logger.info("webhook subscription created", extra={"subscription_id": view["subscription_id"]})
    return Response(status_code=201, content_type="application/json", body=view)


@router.get("/v1/webhooks/subscriptions", summary="Webhook subscriptions (without secrets)", tags=TAGS)
def get_subscriptions() -> dict[str, Any]:
    return read_subscriptions(current_caller(router))


@router.get("/v1/webhooks/subscriptions/<subscription_id>", summary="One webhook subscription", tags=TAGS)
def get_subscription(subscription_id: Annotated[str, Path()]) -> dict[str, Any]:
    return read_subscription(current_caller(router), subscription_id)


@router.delete("/v1/webhooks/subscriptions/<subscription_id>", summary="Stop a webhook subscription", tags=TAGS)
def delete_subscription(subscription_id: Annotated[str, Path()]) -> Response[str]:
    remove_subscription(current_caller(router), subscription_id)
    return Response(status_code=204, body="")


@router.get("/v1/webhooks/deliveries", summary="Webhook deliveries by status (failed: parked)", tags=TAGS)
def get_deliveries(
    status: Annotated[str, Query()] = "failed",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    return failed_deliveries(current_caller(router), status, limit=limit, cursor=cursor)


@router.get("/v1/webhooks/deliveries/<delivery_id>", summary="One webhook delivery", tags=TAGS)
def get_delivery(delivery_id: Annotated[str, Path()]) -> dict[str, Any]:
    return read_delivery(current_caller(router), delivery_id)


@router.post(
    "/v1/webhooks/deliveries/<delivery_id>/replay",
    summary="Deliver a failed delivery again, from its first attempt",
    tags=TAGS,
    responses={409: {"description": "The delivery is not failed"}},
)
def post_replay(delivery_id: Annotated[str, Path()]) -> Response[dict[str, Any]]:
    view = replay_delivery(current_caller(router), delivery_id)
    return Response(status_code=202, content_type="application/json", body=view)


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
