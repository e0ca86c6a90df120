"""HTTP entry point of the inventory domain: locations, stock, availability, stock imports."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.inventory.logic.availability import availability
from functions.inventory.logic.imports import import_status, start_import
from functions.inventory.logic.locations import find_locations, save_location
from functions.inventory.logic.models import (
    AdjustmentIn,
    AvailabilityView,
    BucketsIn,
    ImportIn,
    ImportView,
    LocationPage,
    StockIn,
    StockView,
)
from functions.inventory.logic.stock import adjust, put_stock, split_stock
from functions.inventory.store import Location, LocationFields
from shared.api.app import build_app, current_caller, require_json_object
from shared.api.idempotency import run_idempotent
from shared.api.validation import SKU_PATTERN, GroupName, Id, Sku, path_id
from shared.observability import logger
from shared.tracing import tracer

router = APIGatewayRouter()

Limit = Annotated[int, Query(ge=1, le=200)]


@router.put("/v1/locations/<location_id>", summary="Create or replace a location", tags=["inventory"])
def put_location(location_id: Annotated[str, Path()], fields: Annotated[LocationFields, Body()]) -> Location:
    require_json_object(router)
    return save_location(current_caller(router), path_id("location_id", location_id), fields)


@router.get("/v1/locations", summary="Locations this caller may see", tags=["inventory"])
def get_locations(limit: Limit = 50, cursor: Annotated[str | None, Query()] = None) -> LocationPage:
    return find_locations(current_caller(router), limit=limit, cursor=cursor)


@router.put(
    "/v1/inventory/<location_id>/<sku>",
    summary="Absolute stock from a WMS or ERP (older than the stored as_of: ignored)",
    tags=["inventory"],
)
def put_stock_level(
    location_id: Annotated[str, Path()], sku: Annotated[str, Path()], stock: Annotated[StockIn, Body()]
) -> StockView:
    require_json_object(router)
    location = path_id("location_id", location_id)
    return put_stock(current_caller(router), location, path_id("sku", sku, SKU_PATTERN), stock)


@router.put(
    "/v1/inventory/<location_id>/<sku>/buckets",
    summary="Split a hot SKU's stock at a location into N items (operators; 1 joins them)",
    tags=["inventory"],
)
def put_stock_buckets(
    location_id: Annotated[str, Path()], sku: Annotated[str, Path()], split: Annotated[BucketsIn, Body()]
) -> StockView:
    require_json_object(router)
    location = path_id("location_id", location_id)
    return split_stock(current_caller(router), location, path_id("sku", sku, SKU_PATTERN), split)


@router.post("/v1/inventory/adjustments", summary="Add or remove units", tags=["inventory"])
def post_adjustment(
    adjustment: Annotated[AdjustmentIn, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> StockView:
    caller = current_caller(router)
    require_json_object(router)

    def run(body: dict[str, Any]) -> dict[str, Any]:
        return adjust(caller, AdjustmentIn.model_validate(body)).model_dump(mode="json")

    body = adjustment.model_dump(mode="json")
    return StockView.model_validate(
        run_idempotent(run, name="stock_adjustment", key=idempotency_key, scope=caller.principal_id, body=body)
    )


@router.get("/v1/availability", summary="Available to promise per SKU, location and group", tags=["inventory"])
def get_availability(
    sku: Annotated[list[Sku], Query(description="repeat for several SKUs, up to 100")],
    location_id: Annotated[list[Id] | None, Query()] = None,
    group: Annotated[list[GroupName] | None, Query()] = None,
) -> AvailabilityView:
    return availability(current_caller(router), sku, location_ids=location_id, groups=group)


@router.post(
    "/v1/inventory/imports",
    summary="Bulk absolute stock, applied row by row through a queue",
    tags=["inventory"],
    responses={202: {"description": "Queued", "content": {"application/json": {"model": ImportView}}}},
)
def post_import(rows: Annotated[ImportIn, Body()]) -> Response[dict[str, Any]]:
    caller = current_caller(router)
    require_json_object(router)
    view = start_import(caller, rows)
    logger.info("stock import queued", extra={"import_id": view.import_id, "rows": view.counts.rows})
    return Response(status_code=202, content_type="application/json", body=view.model_dump(mode="json"))


@router.get(
    "/v1/inventory/imports/<import_id>", summary="A stock import's progress and failed rows", tags=["inventory"]
)
def get_import(
    import_id: Annotated[str, Path()], limit: Limit = 50, cursor: Annotated[str | None, Query()] = None
) -> ImportView:
    return import_status(current_caller(router), path_id("import_id", import_id), limit=limit, cursor=cursor)


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
