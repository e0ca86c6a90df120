"""EventBridge schedule (nightly): fit and store every SKU's demand forecast (functions/reports/logic/forecasts.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.reports.logic.forecasts import forecast_batch
from shared.clock import now
from shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A scheduled event's "time" is when the schedule fired: a late or repeated delivery
    # still computes that day's forecasts.
    fired = str(event.get("time") or "")[:10]
    today = date.fromisoformat(fired) if fired else now().date()
    result = forecast_batch(today, time_left_ms=context.get_remaining_time_in_millis() if context else None)
    logger.info("forecasts stored", extra=result)
    return result
