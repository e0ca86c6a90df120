"""HTTP entry point of reports: summary, daily series, CSV exports and demand forecasts."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.reports.logic.forecasts import sku_forecast
from functions.reports.logic.reports import daily, export, summary
from shared.api.app import build_app, current_caller
from shared.observability import logger

router = APIGatewayRouter()

Day = Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]


@router.get("/v1/reports/summary", summary="Order figures over a range of days", tags=["reports"])
def get_summary(
    from_: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")],
    to: Day,
    channel: Annotated[str | None, Query()] = None,
    location_id: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    return summary(current_caller(router), from_, to, channel, location_id)


@router.get("/v1/reports/daily", summary="Order figures per day", tags=["reports"])
def get_daily(
    from_: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")],
    to: Day,
    channel: Annotated[str | None, Query()] = None,
    location_id: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    return daily(current_caller(router), from_, to, channel, location_id)


@router.get("/v1/reports/export", summary="Orders, lines, invoices or credit memos as CSV", tags=["reports"])
def get_export(
    kind: Annotated[str, Query()],
    from_: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")],
    to: Day,
) -> Response[str]:
    body = export(current_caller(router), kind, from_, to)
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=body,
        headers={"Content-Disposition": f'attachment; filename="{kind}-{from_}-{to}.csv"'},
    )


@router.get("/v1/forecast", summary="Daily demand forecast and reorder suggestion", tags=["reports"])
def get_forecast(
    sku: Annotated[str, Query(min_length=1, max_length=64)],
    location_id: Annotated[str | None, Query()] = None,
    days: Annotated[int, Query(ge=1, le=90)] = 28,
    lead_time_days: Annotated[int, Query(ge=1, le=90)] = 7,
    service_level: Annotated[float, Query(gt=0.5, lt=1)] = 0.95,
) -> dict[str, Any]:
    return sku_forecast(current_caller(router), sku, location_id, days, lead_time_days, service_level)


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
