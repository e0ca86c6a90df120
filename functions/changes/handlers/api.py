"""HTTP entry point of change orders: cancel, appeasements and edits, each with a preview."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.changes.logic.adjust import adjust_order
from functions.changes.logic.cancel import cancel_order
from functions.changes.logic.edit import edit_order
from functions.changes.logic.models import AdjustmentRequest, CancelRequest, EditRequest
from shared.api.app import build_app, current_caller, require_json_object
from shared.api.idempotency import run_idempotent
from shared.api.validation import path_id
from shared.observability import logger

router = APIGatewayRouter()

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Preview = Annotated[bool, Query(description="true: return the financial effect, change nothing")]
_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "The preview: the financial effect, nothing written"},
    201: {"description": "The change order, submitted"},
}


def _change(
    order_id: str, body: BaseModel, preview: bool, idempotency_key: str | None, operation: Any, message: str, name: str
) -> Response[dict[str, Any]]:
    """Preview (200, nothing written) or submit (201) a change, once per Idempotency-Key."""
    caller = current_caller(router)
    order_id = path_id("order_id", order_id)
    require_json_object(router)
    if preview:
        return Response(200, "application/json", operation(caller, order_id, body, preview=True))

    def submit(payload: dict[str, Any]) -> dict[str, Any]:
        return dict(operation(caller, order_id, type(body).model_validate(payload), preview=False))

    view = run_idempotent(
        submit,
        name=name,
        key=idempotency_key,
        scope=f"{caller.principal_id}:{order_id}",
        body=body.model_dump(mode="json"),
    )
    logger.info(message, extra={"order_id": order_id, "change_id": view["change_id"]})
    return Response(201, "application/json", view)


@router.post(
    "/v1/orders/<order_id>/cancel",
    summary="Cancel an order or some of its units",
    tags=["changes"],
    responses=_RESPONSES,
)
def post_cancel(
    order_id: Annotated[str, Path()],
    body: Annotated[CancelRequest, Body()],
    preview: Preview = False,
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    return _change(order_id, body, preview, idempotency_key, cancel_order, "order cancelled", "cancel_order")


@router.post(
    "/v1/orders/<order_id>/adjustments",
    summary="An appeasement refunded to the customer",
    tags=["changes"],
    responses=_RESPONSES,
)
def post_adjustment(
    order_id: Annotated[str, Path()],
    body: Annotated[AdjustmentRequest, Body()],
    preview: Preview = False,
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    return _change(order_id, body, preview, idempotency_key, adjust_order, "order appeased", "adjust_order")


@router.post(
    "/v1/orders/<order_id>/edits",
    summary="Edit an order's units or shipping before they are released to a warehouse",
    tags=["changes"],
    responses=_RESPONSES
    | {409: {"description": "Units already released to a warehouse (named in released_units), or a conflict"}},
)
def post_edit(
    order_id: Annotated[str, Path()],
    body: Annotated[EditRequest, Body()],
    preview: Preview = False,
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    return _change(order_id, body, preview, idempotency_key, edit_order, "order edited", "edit_order")


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
