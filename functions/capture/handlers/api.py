"""HTTP entry point of the capture domain: POST/GET /v1/orders, one order, its timeline."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.capture.logic.capture import capture_order
from functions.capture.logic.models import OrderRequest
from functions.capture.logic.order_view import OrderPage, OrderView, TimelinePage
from functions.capture.logic.queries import find_orders, get_order, order_timeline
from shared.api.app import build_app, current_caller, require_json_object
from shared.api.idempotency import run_idempotent
from shared.api.validation import path_id
from shared.observability import logger, metrics
from shared.tracing import tracer

router = APIGatewayRouter()

Limit = Annotated[int, Query(ge=1, le=200)]


@router.post(
    "/v1/orders",
    summary="Capture an order",
    tags=["orders"],
    responses={
        201: {"description": "The order, as GET returns it", "content": {"application/json": {"model": OrderView}}}
    },
)
def post_order(
    order: Annotated[OrderRequest, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response[dict[str, Any]]:
    caller = current_caller(router)
    require_json_object(router)

    def capture(body: dict[str, Any]) -> dict[str, Any]:
        return capture_order(OrderRequest.model_validate(body), caller).model_dump(mode="json")

    view = run_idempotent(
        capture,
        name="capture_order",
        key=idempotency_key,
        scope=caller.principal_id,
        body=order.model_dump(mode="json"),
    )
    metrics.add_dimension(name="channel", value=order.channel)
    metrics.add_metric(name="OrdersCaptured", unit=MetricUnit.Count, value=1)
    logger.info("order captured", extra={"order_id": view["order_id"], "lines": len(view["lines"])})
    return Response(status_code=201, content_type="application/json", body=view)


@router.get("/v1/orders", summary="List orders", tags=["orders"])
def list_orders(
    channel: Annotated[str | None, Query()] = None,
    customer_id: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
    created_after: Annotated[str | None, Query()] = None,
    created_before: Annotated[str | None, Query()] = None,
    fulfillment_status: Annotated[str | None, Query()] = None,
    updated_before: Annotated[str | None, Query()] = None,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> OrderPage:
    return find_orders(
        current_caller(router),
        channel=channel,
        customer_id=customer_id,
        status=status,
        created_after=created_after,
        created_before=created_before,
        fulfillment_status=fulfillment_status,
        updated_before=updated_before,
        limit=limit,
        cursor=cursor,
    )


@router.get("/v1/orders/<order_id>", summary="Get an order", tags=["orders"])
def get_one(order_id: Annotated[str, Path()]) -> OrderView:
    return get_order(current_caller(router), path_id("order_id", order_id))


@router.get("/v1/orders/<order_id>/timeline", summary="Every change to an order, oldest first", tags=["orders"])
def get_timeline(
    order_id: Annotated[str, Path()],
    limit: Limit = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> TimelinePage:
    return order_timeline(current_caller(router), path_id("order_id", order_id), limit=limit, cursor=cursor)


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
