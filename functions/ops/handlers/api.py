"""HTTP entry point of operations: the API's documents, the process exceptions, the caller's
principal and an order's workflow graph."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate import api as allocate_api
from functions.capture import api as capture_api
from functions.changes import api as changes_api
from functions.channels import api as channels_api
from functions.customers import api as customers_api
from functions.fulfill import api as fulfill_api
from functions.holds import api as holds_api
from functions.inventory import api as inventory_api
from functions.ops.logic.exceptions import (
    ExceptionAction,
    ExceptionPage,
    ExceptionView,
    find_exceptions,
    resolve,
    retry,
)
from functions.ops.logic.openapi_doc import docs_page, openapi_document
from functions.ops.logic.principal import PrincipalView, who_am_i
from functions.ops.logic.workflow_view import WorkflowGraph, order_workflow
from functions.payments import api as payments_api
from functions.reports import api as reports_api
from functions.returns import api as returns_api
from shared.api.app import build_app, current_caller
from shared.api.validation import path_id
from shared.observability import logger

router = APIGatewayRouter()


@router.get("/v1/openapi.json", include_in_schema=False)
def openapi_json() -> dict[str, Any]:
    return openapi_document(ROUTERS)


@router.get("/v1/docs", include_in_schema=False)
def docs() -> Response[str]:
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=docs_page(openapi_document(ROUTERS)))


@router.get("/v1/exceptions", summary="Process exceptions", tags=["operations"])
def list_exceptions(
    status: Annotated[str, Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> ExceptionPage:
    return find_exceptions(current_caller(router), status=status, limit=limit, cursor=cursor)


@router.post("/v1/exceptions/<exc_id>/retry", summary="Retry the failed step", tags=["operations"])
def post_retry(
    exc_id: Annotated[str, Path()], action: Annotated[ExceptionAction | None, Body()] = None
) -> ExceptionView:
    return retry(current_caller(router), path_id("exc_id", exc_id), note=action.note if action else "")


@router.post("/v1/exceptions/<exc_id>/resolve", summary="Resolve by hand", tags=["operations"])
def post_resolve(
    exc_id: Annotated[str, Path()], action: Annotated[ExceptionAction | None, Body()] = None
) -> ExceptionView:
    return resolve(current_caller(router), path_id("exc_id", exc_id), note=action.note if action else "")


@router.get("/v1/me", summary="The caller: principal, role, channel, locations", tags=["operations"])
def get_me() -> PrincipalView:
    return who_am_i(current_caller(router))


@router.get(
    "/v1/orders/<order_id>/workflow",
    summary="The order's workflow: states, transitions, and where its execution is",
    tags=["orders"],
)
def get_workflow(order_id: Annotated[str, Path()]) -> WorkflowGraph:
    return order_workflow(current_caller(router), path_id("order_id", order_id))


# Every domain's routes, for the OpenAPI document. Add each new domain's router here.
ROUTERS = (
    *capture_api.http_routers(),
    *channels_api.http_routers(),
    *changes_api.http_routers(),
    *returns_api.http_routers(),
    *allocate_api.http_routers(),
    *inventory_api.http_routers(),
    *fulfill_api.http_routers(),
    *payments_api.http_routers(),
    *customers_api.http_routers(),
    *reports_api.http_routers(),
    *holds_api.http_routers(),
    router,
)
app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
