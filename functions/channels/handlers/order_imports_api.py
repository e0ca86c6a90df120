"""POST /v1/orders/imports (a file of orders: JSON lines or CSV) and its per-order results."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.channels.logic.order_imports import order_import_status, start_order_import
from shared.api.app import build_app, current_caller
from shared.errors import MalformedInput
from shared.observability import logger
from shared.tracing import tracer

router = APIGatewayRouter()


def _file() -> tuple[str, str]:
    event = router.current_event
    raw = event.body or ""
    try:
        text = base64.b64decode(raw).decode("utf-8-sig") if event.is_base64_encoded else raw.removeprefix("\ufeff")
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedInput("the file is not UTF-8 text") from err
    content_type = next((str(v) for k, v in (event.headers or {}).items() if k.lower() == "content-type"), "")
    return text, content_type


@router.post(
    "/v1/orders/imports",
    summary="A file of orders (JSON lines, one POST /v1/orders body per line, or CSV), captured through a queue",
    tags=["orders"],
    responses={202: {"description": "Queued: {import_id, status, counts, rows}"}},
)
def post_order_import() -> Response[dict[str, Any]]:
    text, content_type = _file()
    view = start_order_import(current_caller(router), text, content_type)
    logger.info("order import queued", extra={"import_id": view["import_id"], "rows": view["counts"]["rows"]})
    return Response(status_code=202, content_type="application/json", body=view)


@router.get(
    "/v1/orders/imports/<import_id>", summary="An order import's progress and result per order", tags=["orders"]
)
def get_order_import(
    import_id: Annotated[str, Path()],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    return order_import_status(current_caller(router), import_id, limit=limit, cursor=cursor)


app = build_app(router, json_bodies=False)  # files come as JSON lines or CSV


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
