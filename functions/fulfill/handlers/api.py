"""HTTP entry point of fulfillment: the WMS works its fulfillment orders (/v1/fulfillment-orders...)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.fulfill.logic.fulfillment_orders import advance
from functions.fulfill.logic.models import PickedUpRequest, ReadyForPickupRequest, RejectRequest, ShipRequest
from functions.fulfill.logic.pick_list import pick_list_html
from functions.fulfill.logic.pickup import picked_up, ready_for_pickup
from functions.fulfill.logic.pickup_policy import PickupPolicy, load_pickup_policy, save_pickup_policy
from functions.fulfill.logic.queries import (
    FulfillmentOrderPage,
    find_fulfillment_orders,
    get_fulfillment_order,
    get_pick_list,
)
from functions.fulfill.logic.rejection import reject
from functions.fulfill.logic.shipping import ship
from functions.fulfill.rules.pickup import code_hash
from shared.api.app import build_app, current_caller, require_json_object
from shared.api.idempotency import run_idempotent
from shared.api.validation import path_id
from shared.observability import logger
from shared.tracing import tracer

router = APIGatewayRouter()

FoId = Annotated[str, Path()]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
_TAGS = ["fulfillment"]


@router.get("/v1/fulfillment-orders", summary="Fulfillment orders of a location or in a status", tags=_TAGS)
def list_fulfillment_orders(
    location_id: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> FulfillmentOrderPage:
    caller = current_caller(router)
    return find_fulfillment_orders(caller, location_id=location_id, status=status, limit=limit, cursor=cursor)


@router.get("/v1/fulfillment-orders/<fo_id>", summary="Get a fulfillment order", tags=_TAGS)
def get_one(fo_id: FoId) -> dict[str, Any]:
    return get_fulfillment_order(current_caller(router), path_id("fo_id", fo_id))


@router.get(
    "/v1/fulfillment-orders/<fo_id>/pick-list",
    summary="Pick list (JSON, or ?format=html)",
    tags=_TAGS,
    responses={
        200: {
            "description": "The pick list",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    },
)
def get_pick(fo_id: FoId, format: Annotated[Literal["json", "html"], Query()] = "json") -> Response[Any]:
    pick = get_pick_list(current_caller(router), path_id("fo_id", fo_id))
    if format == "html":
        return Response(status_code=200, content_type="text/html; charset=utf-8", body=pick_list_html(pick))
    return Response(status_code=200, content_type="application/json", body=pick)


def _step(action: str, fo_id: str, key: str | None) -> dict[str, Any]:
    caller = current_caller(router)
    fo_id = path_id("fo_id", fo_id)

    def run(_: dict[str, Any]) -> dict[str, Any]:
        return advance(caller, fo_id, action)

    return run_idempotent(
        run, name=f"fulfillment_{action}", key=key, scope=caller.principal_id, body={"fo_id": fo_id, "action": action}
    )


@router.post("/v1/fulfillment-orders/<fo_id>/accept", summary="The location takes the work", tags=_TAGS)
def accept(fo_id: FoId, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    return _step("accept", fo_id, idempotency_key)


@router.post("/v1/fulfillment-orders/<fo_id>/pick", summary="The units are picked", tags=_TAGS)
def pick(fo_id: FoId, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    return _step("pick", fo_id, idempotency_key)


@router.post("/v1/fulfillment-orders/<fo_id>/pack", summary="The units are packed", tags=_TAGS)
def pack(fo_id: FoId, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    return _step("pack", fo_id, idempotency_key)


@router.post(
    "/v1/fulfillment-orders/<fo_id>/reject", summary="The location cannot ship (all or some lines)", tags=_TAGS
)
def post_reject(
    fo_id: FoId, request: Annotated[RejectRequest, Body()], idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    caller = current_caller(router)
    fo_id = path_id("fo_id", fo_id)
    require_json_object(router)

    def fulfillment_reject(body: dict[str, Any]) -> dict[str, Any]:
        return reject(caller, body["fo_id"], RejectRequest.model_validate(body["request"]))

    body = {"fo_id": fo_id, "request": request.model_dump(mode="json")}
    view = run_idempotent(
        fulfillment_reject, name="fulfillment_reject", key=idempotency_key, scope=caller.principal_id, body=body
    )
    logger.info("fulfillment rejected", extra={"fo_id": fo_id, "status": view["status"]})
    return view


@router.post(
    "/v1/fulfillment-orders/<fo_id>/ship",
    summary="Ship units (all open, or the lines named): a shipment, captured and invoiced",
    tags=_TAGS,
    responses={201: {"description": "The shipment"}},
)
def post_ship(
    fo_id: FoId, request: Annotated[ShipRequest, Body()], idempotency_key: IdempotencyKey = None
) -> Response[dict[str, Any]]:
    caller = current_caller(router)
    fo_id = path_id("fo_id", fo_id)
    require_json_object(router)

    def fulfillment_ship(body: dict[str, Any]) -> dict[str, Any]:
        return ship(caller, body["fo_id"], ShipRequest.model_validate(body["request"]))

    body = {"fo_id": fo_id, "request": request.model_dump(mode="json")}
    shipment = run_idempotent(
        fulfillment_ship, name="fulfillment_ship", key=idempotency_key, scope=caller.principal_id, body=body
    )
    logger.info("shipment shipped", extra={"fo_id": fo_id, "shipment_id": shipment["shipment_id"]})
    return Response(status_code=201, content_type="application/json", body=shipment)


@router.post(
    "/v1/fulfillment-orders/<fo_id>/ready-for-pickup",
    summary="A pickup order waits at the store: the customer is sent a pickup code",
    tags=_TAGS,
)
def post_ready_for_pickup(
    fo_id: FoId,
    request: Annotated[ReadyForPickupRequest | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    caller = current_caller(router)
    fo_id = path_id("fo_id", fo_id)
    request = request or ReadyForPickupRequest()

    def fulfillment_ready_for_pickup(body: dict[str, Any]) -> dict[str, Any]:
        return ready_for_pickup(caller, body["fo_id"], ReadyForPickupRequest.model_validate(body["request"]))

    body = {"fo_id": fo_id, "request": request.model_dump(mode="json")}
    view = run_idempotent(
        fulfillment_ready_for_pickup,
        name="fulfillment_ready_for_pickup",
        key=idempotency_key,
        scope=caller.principal_id,
        body=body,
    )
    logger.info("ready for pickup", extra={"fo_id": fo_id, "codes_issued": view.get("pickup", {}).get("codes_issued")})
    return view


@router.post(
    "/v1/fulfillment-orders/<fo_id>/picked-up",
    summary="The customer collected a pickup order with its code: captured and invoiced, no carrier",
    tags=_TAGS,
    responses={
        201: {"description": "The handover (a shipment without carrier or tracking number)"},
        422: {"description": "The code does not match (``attempts_left``)"},
        409: {"description": "Not ready for pickup, or too many wrong codes"},
    },
)
def post_picked_up(
    fo_id: FoId, request: Annotated[PickedUpRequest, Body()], idempotency_key: IdempotencyKey = None
) -> Response[dict[str, Any]]:
    caller = current_caller(router)
    fo_id = path_id("fo_id", fo_id)
    require_json_object(router)

    def fulfillment_picked_up(_: dict[str, Any]) -> dict[str, Any]:
        return picked_up(caller, fo_id, request)

    # The idempotency record keeps the code's hash, never the code.
    body = {"fo_id": fo_id, "pickup_code_hash": code_hash(fo_id, request.pickup_code)}
    shipment = run_idempotent(
        fulfillment_picked_up,
        name="fulfillment_picked_up",
        key=idempotency_key,
        scope=caller.principal_id,
        body=body,
    )
    logger.info("picked up", extra={"fo_id": fo_id, "shipment_id": shipment["shipment_id"]})
    return Response(status_code=201, content_type="application/json", body=shipment)


@router.get("/v1/config/pickup", summary="The pickup policy", tags=["configuration"])
def get_pickup_policy() -> PickupPolicy:
    current_caller(router).require("ops", "agent", "wms")
    return load_pickup_policy()


@router.put("/v1/config/pickup", summary="Replace the pickup policy", tags=["configuration"])
def put_pickup_policy(policy: Annotated[PickupPolicy, Body()]) -> PickupPolicy:
    current_caller(router).require("ops")
    require_json_object(router)
    return save_pickup_policy(policy)


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
