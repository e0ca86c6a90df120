"""The nightly forecast schedule on the local stack, and the demo's last step that shows it.

Three weeks of imported orders (with their channel's placed_at) make a SKU's demand
history; firing the NightlyForecasts schedule stores its forecast, which GET /v1/forecast
then serves; the demo's finale prints a customer's 360° view, the day's summary and that
forecast with its reorder suggestion through the oms tool.
"""

from __future__ import annotations

import pytest

from demo.finale import HISTORY_DAYS, HISTORY_SKU, print_finale
from infra.local.client import RunningStack
from infra.local.schedules import fire
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_schedule_stores_forecasts_and_the_demo_finale_prints_them(
    stack: RunningStack, api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    captured = api.get("/v1/orders", key="dev-ops-key", params={"limit": 1}).json()["items"]
    customer_id = captured[0]["customer_id"] if captured else "cus_00000000000000000000000000"

    print_finale(stack, customer_id, seed=11)
    shown = capsys.readouterr().out

    served = api.get("/v1/forecast", key="dev-ops-key", params={"sku": HISTORY_SKU, "days": 7}).json()
    assert served["source"] == "batch" and served["history_days"] == HISTORY_DAYS
    assert served["method"] == "holt_winters"
    assert sum(d["mean"] for d in served["daily"]) > 0
    assert f"$ oms forecast {HISTORY_SKU}" in shown and "(batch)" in shown and "reorder point" in shown
    assert "$ oms reports summary" in shown and "gmv" in shown
    assert f"$ oms customers get {customer_id}" in shown

    # Fired again the same day: the same stored figures.
    (again,) = fire(stack.aws("events"), stack.aws("lambda"), "NightlyForecasts")
    assert again["complete"] is True and again["written"] >= 1
    repeat = api.get("/v1/forecast", key="dev-ops-key", params={"sku": HISTORY_SKU, "days": 7}).json()
    assert repeat["daily"] == served["daily"] and repeat["reorder"] == served["reorder"]
