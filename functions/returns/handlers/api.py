"""HTTP entry point of returns and exchanges: authorize (RMA), receive, read."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.returns.logic.authorize import authorize_return
from functions.returns.logic.models import ReceiptRequest, ReturnRequest
from functions.returns.logic.queries import get_return
from functions.returns.logic.receive import receive_return
from shared.api.app import build_app, current_caller, require_json_object
from shared.api.idempotency import run_idempotent
from shared.api.validation import path_id
from shared.observability import logger

router = APIGatewayRouter()

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post(
    "/v1/orders/<order_id>/returns",
    summary="Authorize a return (RMA), or an exchange",
    tags=["returns"],
    responses={
        200: {"description": "The preview: the expected refund, nothing written"},
        201: {"description": "The return authorization"},
    },
)
def post_return(
    order_id: Annotated[str, Path()],
    body: Annotated[ReturnRequest, Body()],
    preview: Annotated[bool, Query(description="true: the expected refund, nothing written")] = False,
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    caller = current_caller(router)
    order_id = path_id("order_id", order_id)
    require_json_object(router)
    if preview:
        view = authorize_return(caller, order_id, body, preview=True)
        return Response(status_code=200, content_type="application/json", body=view)

    def authorize(payload: dict[str, Any]) -> dict[str, Any]:
        return authorize_return(caller, order_id, ReturnRequest.model_validate(payload), preview=False)

    view = run_idempotent(
        authorize,
        name="authorize_return",
        key=idempotency_key,
        scope=f"{caller.principal_id}:{order_id}",
        body=body.model_dump(mode="json"),
    )
    logger.info("return authorized", extra={"order_id": order_id, "return_id": view["return_id"]})
    return Response(status_code=201, content_type="application/json", body=view)


@router.post("/v1/returns/<return_id>/receive", summary="Goods of a return arrived at a location", tags=["returns"])
def post_receipt(
    return_id: Annotated[str, Path()],
    body: Annotated[ReceiptRequest, Body()],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    caller = current_caller(router)
    return_id = path_id("return_id", return_id)
    require_json_object(router)

    def receive(payload: dict[str, Any]) -> dict[str, Any]:
        return receive_return(caller, return_id, ReceiptRequest.model_validate(payload))

    view = run_idempotent(
        receive,
        name="receive_return",
        key=idempotency_key,
        scope=f"{caller.principal_id}:{return_id}",
        body=body.model_dump(mode="json"),
    )
    logger.info("return received", extra={"return_id": return_id, "order_id": view["order_id"]})
    return view


@router.get("/v1/returns/<return_id>", summary="A return authorization", tags=["returns"])
def get_one(return_id: Annotated[str, Path()]) -> dict[str, Any]:
    return get_return(current_caller(router), path_id("return_id", return_id))


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
