"""End-to-end: the local stack in a child process, used only through HTTP and its AWS endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from infra.local.client import RunningStack, local_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with local_stack(log_dir=tmp_path_factory.mktemp("e2e-stack")) as running:
        yield running


class Api:
    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def request(self, method: str, path: str, key: str | None = "dev-web-key", **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if key:
            headers["x-api-key"] = key
        return self.http.request(method, self.base + path, headers=headers, timeout=60, **kwargs)

    def post(self, path: str, body=None, key: str | None = "dev-web-key", **kwargs):
        return self.request("POST", path, key, json=body, **kwargs)

    def get(self, path: str, key: str | None = "dev-web-key", **kwargs):
        return self.request("GET", path, key, **kwargs)


@pytest.fixture(scope="session")
def api(stack: RunningStack) -> Api:
    return Api(stack.api_url)


def put_location(api: Api, location_id: str, *, lat: float, lon: float, kind: str = "warehouse", **extra) -> None:
    body = {"name": location_id, "type": kind, "lat": lat, "lon": lon, **extra}
    response = api.request("PUT", f"/v1/locations/{location_id}", key="dev-ops-key", json=body)
    assert response.status_code == 200, response.text


def put_stock(api: Api, location_id: str, sku: str, on_hand: int) -> None:
    from datetime import UTC, datetime

    body = {"on_hand": on_hand, "safety_stock": 0, "as_of": datetime.now(UTC).isoformat()}
    response = api.request("PUT", f"/v1/inventory/{location_id}/{sku}", key="dev-ops-key", json=body)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="session")
def stocked(api: Api) -> Api:
    """The sample catalogue stocked in one Berlin warehouse, plenty of each SKU."""
    from demo.samples import CATALOGUE

    put_location(api, "wh-e2e", lat=52.52, lon=13.40)
    for sku in CATALOGUE:
        put_stock(api, "wh-e2e", sku, 100_000)
    return api


def get_order(api: Api, order_id: str) -> dict[str, Any]:
    """The order as an operator sees it."""
    response = api.get(f"/v1/orders/{order_id}", key="dev-ops-key")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_for_order(
    api: Api, order_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    """The order once ``done(order)`` holds; fails showing the order as it last was."""
    deadline = time.monotonic() + timeout
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        order = get_order(api, order_id)
        if done(order):
            return order
        time.sleep(0.3)
    raise AssertionError(f"order {order_id} never reached the expected state: {json.dumps(order)[:2500]}")
