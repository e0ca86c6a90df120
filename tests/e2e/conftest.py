"""End-to-end: the local stack in a child process, used only through HTTP and its AWS endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from infra.local.client import RunningStack, local_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    with local_stack() as running:
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
