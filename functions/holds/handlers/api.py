"""HTTP entry point of holds: place, release and list an order's holds; the hold policy."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.holds.logic.holds import list_holds, place_hold, release_hold
from functions.holds.logic.models import HoldRequest, ReleaseRequest
from functions.holds.logic.policy import load_policy, save_policy
from functions.holds.rules.policy import HoldPolicy
from shared.api.app import build_app, current_caller, require_json_object
from shared.api.idempotency import run_idempotent
from shared.api.validation import path_id
from shared.observability import logger

router = APIGatewayRouter()

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post(
    "/v1/orders/<order_id>/holds",
    summary="Put an order on hold: nothing of it is released to a warehouse until the hold ends",
    tags=["holds"],
    responses={201: {"description": "The hold"}},
)
def post_hold(
    order_id: Annotated[str, Path()],
    body: Annotated[HoldRequest, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    caller = current_caller(router)
    order_id = path_id("order_id", order_id)
    require_json_object(router)
    view = run_idempotent(
        lambda payload: place_hold(caller, order_id, HoldRequest.model_validate(payload)),
        name="place_hold",
        key=idempotency_key,
        scope=f"{caller.principal_id}:{order_id}",
        body=body.model_dump(mode="json"),
    )
    logger.info("hold placed", extra={"order_id": order_id, "hold_id": view["hold_id"]})
    return Response(201, "application/json", view)


@router.post(
    "/v1/orders/<order_id>/holds/<hold_id>/release",
    summary="Release a hold; the order's workflow goes on when its last hold ends",
    tags=["holds"],
)
def post_release(
    order_id: Annotated[str, Path()],
    hold_id: Annotated[str, Path()],
    body: Annotated[ReleaseRequest | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    caller = current_caller(router)
    order_id = path_id("order_id", order_id)
    hold_id = path_id("hold_id", hold_id)
    request = body or ReleaseRequest()
    view = run_idempotent(
        lambda payload: release_hold(caller, order_id, hold_id, ReleaseRequest.model_validate(payload)),
        name="release_hold",
        key=idempotency_key,
        scope=f"{caller.principal_id}:{order_id}:{hold_id}",
        body=request.model_dump(mode="json"),
    )
    logger.info("hold released", extra={"order_id": order_id, "hold_id": hold_id})
    return view


@router.get("/v1/orders/<order_id>/holds", summary="An order's holds, active and ended", tags=["holds"])
def get_holds(order_id: Annotated[str, Path()]) -> dict[str, Any]:
    return list_holds(current_caller(router), path_id("order_id", order_id))


@router.get("/v1/config/holds", summary="The hold policy (expiry actions, fraud screening)", tags=["configuration"])
def get_policy() -> HoldPolicy:
    current_caller(router).require("ops", "agent")
    return load_policy()


@router.put("/v1/config/holds", summary="Replace the hold policy", tags=["configuration"])
def put_policy(policy: Annotated[HoldPolicy, Body()]) -> HoldPolicy:
    current_caller(router).require("ops")
    require_json_object(router)
    return save_policy(policy)


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
