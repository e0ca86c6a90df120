"""HTTP entry point of change orders: cancel and appeasements, each with a preview."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.changes.logic.adjust import adjust_order
from functions.changes.logic.cancel import cancel_order
from functions.changes.logic.models import AdjustmentRequest, CancelRequest
from shared.api.app import build_app, current_caller, require_json_object
from shared.api.idempotency import run_idempotent
from shared.observability import logger

router = APIGatewayRouter()

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Preview = Annotated[bool, Query(description="true: return the financial effect, change nothing")]


def _respond(preview: bool, view: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=200 if preview else 201, content_type="application/json", body=view)


@router.post("/v1/orders/<order_id>/cancel", summary="Cancel an order or some of its units", tags=["changes"])
def post_cancel(
    order_id: Annotated[str, Path()],
    body: Annotated[CancelRequest, Body()],
    preview: Preview = False,
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    caller = current_caller(router)
    require_json_object(router)
    if preview:
        return _respond(True, cancel_order(caller, order_id, body, preview=True))

    def cancel(payload: dict[str, Any]) -> dict[str, Any]:
        return cancel_order(caller, order_id, CancelRequest.model_validate(payload), preview=False)

    view = run_idempotent(
        cancel, key=idempotency_key, scope=f"{caller.principal_id}:{order_id}", body=body.model_dump(mode="json")
    )
    logger.info("order cancelled", extra={"order_id": order_id, "change_id": view["change_id"]})
    return _respond(False, view)


@router.post("/v1/orders/<order_id>/adjustments", summary="An appeasement refunded to the customer", tags=["changes"])
def post_adjustment(
    order_id: Annotated[str, Path()],
    body: Annotated[AdjustmentRequest, Body()],
    preview: Preview = False,
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    caller = current_caller(router)
    require_json_object(router)
    if preview:
        return _respond(True, adjust_order(caller, order_id, body, preview=True))

    def adjust(payload: dict[str, Any]) -> dict[str, Any]:
        return adjust_order(caller, order_id, AdjustmentRequest.model_validate(payload), preview=False)

    view = run_idempotent(
        adjust, key=idempotency_key, scope=f"{caller.principal_id}:{order_id}", body=body.model_dump(mode="json")
    )
    logger.info("order appeased", extra={"order_id": order_id, "change_id": view["change_id"]})
    return _respond(False, view)


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
