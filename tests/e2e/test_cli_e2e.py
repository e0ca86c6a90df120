"""The ``oms`` command-line tool against the local stack: every command, its tables, ``--json`` and its errors.

The CLI's ``main()`` runs in process (one test runs it as ``python -m cli`` too), talking
to the stack only over HTTP, as an operator's terminal would.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli.main import EXIT_API_ERROR, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, main
from functions.payments.gateways.sandbox import sign_sandbox_event
from infra.local.client import RunningStack
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS
from infra.manifest import ROOT
from tests.e2e.conftest import Api, put_location, wait_for_order

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OPS = "dev-ops-key"
LOCATION = "wh-cli"
SKU = "CLI-TEE"
RUN = uuid.uuid4().hex[:8]


class Oms:
    """Runs ``oms <args>`` in process against the stack; returns (exit code, stdout, stderr)."""

    def __init__(self, stack: RunningStack):
        self.url = stack.api_url

    def __call__(self, *args: str, key: str | None = OPS) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        argv = ["--api-url", self.url, *(["--api-key", key] if key else []), *args]
        code = main(argv, out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    def json(self, *args: str, key: str = OPS) -> Any:
        code, out, err = self("--json", *args, key=key)
        assert code == EXIT_OK, err
        return json.loads(out)

    def table(self, *args: str, key: str = OPS) -> str:
        code, out, err = self(*args, key=key)
        assert code == EXIT_OK, err
        return out


def _eventually(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


@pytest.fixture(scope="module")
def oms(stack: RunningStack) -> Oms:
    return Oms(stack)


@pytest.fixture(scope="module")
def placed(api: Api, oms: Oms) -> dict[str, Any]:
    """One order of SKU, stocked by the CLI, authorized and waiting for the warehouse."""
    put_location(api, LOCATION, lat=52.52, lon=13.40)
    code, _, err = oms("stock", "set", LOCATION, SKU, "40", "--safety-stock", "2")
    assert code == EXIT_OK, err
    body = {
        "channel": "web",
        "external_id": f"CLI-{RUN}",
        "customer": {"email": f"cli-{RUN}@example.com", "name": "Grace Hopper"},
        "currency": "EUR",
        "lines": [{"sku": SKU, "quantity": 2, "unit_price": 1500, "tax": 0}],
        "shipping": {
            "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"},
            "method": "standard",
            "amount": 495,
        },
        "payment": {"provider": "sandbox", "token": "tok_visa"},
    }
    response = api.post("/v1/orders", body)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    return wait_for_order(
        api,
        order_id,
        lambda o: (
            o["payment_status"] == "authorized" and any(f["status"] == "allocated" for f in o["fulfillment_orders"])
        ),
    )


def test_stock_set_and_get(oms: Oms, placed: dict[str, Any]) -> None:
    code, out, err = oms("stock", "set", LOCATION, "CLI-CAP", "12", "--safety-stock", "1")
    assert code == EXIT_OK, err
    assert "CLI-CAP" in out and "12" in out and "available" in out.splitlines()[0]
    view = oms.json("stock", "set", LOCATION, "CLI-CAP", "9")
    assert (view["on_hand"], view["applied"]) == (9, True)
    stale = oms.json("stock", "set", LOCATION, "CLI-CAP", "50", "--as-of", "2001-01-01T00:00:00Z")
    assert (stale["on_hand"], stale["applied"]) == (9, False)

    found = oms.json("stock", "get", SKU, "CLI-CAP", "--location", LOCATION)
    by_sku = {s["sku"]: s for s in found["items"]}
    (tee,) = by_sku[SKU]["locations"]
    assert (tee["on_hand"], tee["reserved"], tee["safety_stock"]) == (40, 2, 2)
    assert by_sku["CLI-CAP"]["locations"][0]["on_hand"] == 9
    text = oms.table("stock", "get", SKU, "--location", LOCATION)
    row = next(line.split() for line in text.splitlines() if line.startswith(SKU))
    assert row == [SKU, LOCATION, "40", "2", "2", "36"]
    assert "available to promise: CLI-TEE=36" in text


def test_orders_get_list_search_and_timeline(oms: Oms, api: Api, placed: dict[str, Any]) -> None:
    order_id = placed["order_id"]
    as_api = api.get(f"/v1/orders/{order_id}", key=OPS).json()
    assert oms.json("orders", "get", order_id) == as_api
    text = oms.table("orders", "get", order_id)
    assert order_id in text and SKU in text and "34.95 EUR" in text and "authorized" in text

    listed = oms.json("orders", "list", "--channel", "web", "--limit", "200")
    assert order_id in [o["order_id"] for o in listed["items"]]
    assert order_id in oms.table("orders", "list", "--channel", "web", "--limit", "200")

    hits = oms.json("orders", "search", f"cli-{RUN}@example.com")["items"]
    assert {"order", "customer"} <= {h["kind"] for h in hits}
    assert order_id in oms.table("orders", "search", f"CLI-{RUN}")

    events = oms.json("timeline", order_id)["items"]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "order.captured"
    assert kinds == [e["kind"] for e in api.get(f"/v1/orders/{order_id}/timeline?limit=200", key=OPS).json()["items"]]
    text = oms.table("orders", "timeline", order_id)
    assert text.splitlines()[0].split() == ["at", "event", "actor", "detail"]
    assert "order.captured" in text


def _dispute(api: Api, order: dict[str, Any], name: str) -> None:
    """The sandbox provider opens a dispute: the order goes on hold with a process exception.

    Each call is a dispute of its own: a second ``dispute.opened`` of one dispute in the
    same second is the same stage of its sequence, a repeat the OMS rightly ignores."""
    (payment,) = order["payments"]
    reference = payment["reference"]
    event = {
        "id": f"evt_cli_{name}_{order['order_id']}",
        "type": "dispute.opened",
        "created": int(time.time()),
        "data": {
            "reference": f"dp_{name}_{reference}",
            "payment_reference": reference,
            "amount": 100,
            "reason": "fraudulent",
        },
    }
    body, headers = sign_sandbox_event(event, DEV_WEBHOOK_SECRETS["sandbox"])
    response = api.request("POST", "/v1/webhooks/payments/sandbox", key=None, data=body, headers=headers)
    assert response.status_code == 200, response.text


def _open_exceptions(oms: Oms, order_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: list[str] = []
    while True:
        page = oms.json("exceptions", "list", "--limit", "200", *cursor)
        found += [e for e in page["items"] if e["order_id"] == order_id]
        if not page["next_cursor"]:
            return found
        cursor = ["--cursor", page["next_cursor"]]


def test_exceptions_list_retry_and_resolve(oms: Oms, api: Api, placed: dict[str, Any]) -> None:
    order_id = placed["order_id"]
    _dispute(api, placed, "first")
    (first,) = _eventually(lambda: _open_exceptions(oms, order_id), lambda found: len(found) == 1)
    assert first["step"] == "PaymentDispute"
    assert first["exc_id"] in oms.table("exceptions", "list", "--limit", "200")

    code, out, err = oms("exceptions", "retry", first["exc_id"], "--note", "provider says the charge is fine")
    assert code == EXIT_OK, err
    assert "retried" in out
    assert _open_exceptions(oms, order_id) == []
    retried = oms.json("exceptions", "list", "--status", "retried", "--limit", "200")["items"]
    assert any(e["exc_id"] == first["exc_id"] and e["note"] for e in retried)

    _dispute(api, placed, "second")
    (second,) = _eventually(lambda: _open_exceptions(oms, order_id), lambda found: len(found) == 1)
    resolved = oms.json("exceptions", "resolve", second["exc_id"], "--note", "refunded by hand")
    assert (resolved["status"], resolved["note"]) == ("resolved", "refunded by hand")
    assert _open_exceptions(oms, order_id) == []
    # Closed once: a second resolve is refused with the API's problem.
    code, _, err = oms("exceptions", "resolve", second["exc_id"])
    assert code == EXIT_API_ERROR
    assert err.startswith("error: 409")


def test_reports_forecast_and_customers(oms: Oms, placed: dict[str, Any], tmp_path: Path) -> None:
    today = datetime.now(UTC).date().isoformat()
    window = ("--from", today, "--to", today)
    summary = _eventually(lambda: oms.json("reports", "summary", *window), lambda s: s["orders"] >= 1)
    assert summary["orders"] >= 1 and summary["gmv"]["EUR"] >= placed["totals"]["total"]
    text = oms.table("reports", "summary", *window, "--channel", "web")
    assert text.splitlines()[0] == f"{today} .. {today}"
    assert any(line.split()[0] == "orders" for line in text.splitlines()[1:])
    assert "time_to_ship" in text

    daily = oms.json("reports", "daily", *window)
    assert [d["date"] for d in daily["items"]] == [today]
    assert today in oms.table("reports", "daily", *window)

    target = tmp_path / "orders.csv"
    code, out, err = oms("reports", "export", "orders", *window, "-o", str(target))
    assert code == EXIT_OK, err
    csv_text = target.read_text()
    assert csv_text.startswith("order_id,") and placed["order_id"] in csv_text
    assert out.strip().endswith(f"written to {target}")
    assert placed["order_id"] in oms.table("reports", "export", "orders", *window)

    forecast = oms.json("reports", "forecast", SKU, "--days", "5", "--location", LOCATION)
    assert forecast["sku"] == SKU and len(forecast["daily"]) == 5
    assert forecast["reorder"]["on_hand"] == 40
    text = oms.table("forecast", SKU, "--days", "3")
    assert "reorder point" in text and "suggested order" in text and len(text.splitlines()) >= 3 + 9

    customer_id = placed["customer_id"]
    view = oms.json("customers", "get", customer_id)
    assert view["profile"]["email"] == f"cli-{RUN}@example.com"
    text = oms.table("customers", "get", customer_id)
    assert "Grace Hopper" in text and "segment" in text
    found = oms.json("customers", "find", "--email", f"cli-{RUN}@example.com")
    assert [c["customer_id"] for c in found["items"]] == [customer_id]
    assert customer_id in oms.table("customers", "find", "--email", f"cli-{RUN}@example.com")


def test_errors_show_the_problem_and_exit_non_zero(oms: Oms, stack: RunningStack) -> None:
    code, out, err = oms("orders", "get", "ord_00000000000000000000000000")
    assert (code, out) == (EXIT_API_ERROR, "")
    assert err.startswith("error: 404 ")

    code, _, err = oms("stock", "set", LOCATION, SKU, "-5")
    assert code == EXIT_API_ERROR
    lines = err.splitlines()
    assert lines[0].startswith("error: 422 ")
    assert any(line.strip().startswith("on_hand:") for line in lines[1:])

    code, _, err = oms("--json", "stock", "set", LOCATION, SKU, "-5")
    problem = json.loads(err)
    assert code == EXIT_API_ERROR and problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == ["on_hand"]

    code, _, err = oms("exceptions", "list", key="dev-web-key")
    assert code == EXIT_API_ERROR and err.startswith("error: 403 ")
    code, _, err = oms("orders", "list", key="not-a-key")
    assert code == EXIT_API_ERROR and err.startswith("error: 401 ")

    code, _, err = oms("orders", "list", key=None)
    assert code == EXIT_USAGE and "OMS_API_KEY" in err
    code, _, _ = oms("orders", "frobnicate")
    assert code == EXIT_USAGE

    closed = io.StringIO()
    code = main(["--api-url", "http://127.0.0.1:9", "--api-key", OPS, "orders", "list"], err=closed)
    assert code == EXIT_UNREACHABLE and "cannot reach http://127.0.0.1:9" in closed.getvalue()


def test_runs_as_a_program_with_settings_from_the_environment(stack: RunningStack, placed: dict[str, Any]) -> None:
    env = dict(os.environ, OMS_API_URL=stack.api_url, OMS_API_KEY="dev-agent-key")
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--json", "orders", "get", placed["order_id"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["order_id"] == placed["order_id"]
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "exceptions", "resolve", "exc_00000000000000000000000000"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # An agent may read but not close process exceptions.
    assert refused.returncode == EXIT_API_ERROR and refused.stderr.startswith("error: 403 ")
