"""Payment provider webhooks through the local stack's HTTP API only (sandbox provider).

The test plays the provider: it signs events with the local stack's development secret
and posts them, then reads the order, its timeline and the process exceptions back.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from functions.payments.gateways.sandbox import sign_sandbox_event
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS
from tests.e2e.conftest import Api, get_order, put_location, put_stock, wait_for_order

pytestmark = pytest.mark.e2e

WMS = "dev-wms-key"  # bound to wh-east, wh-west, wh-central
OPS = "dev-ops-key"
WEBHOOK = "/v1/webhooks/payments/sandbox"


def _place(api: Api, external_id: str, sku: str, unit_price: int) -> dict[str, Any]:
    body = {
        "channel": "web",
        "external_id": external_id,
        "customer": {"email": f"{external_id.lower()}@example.com", "name": "Ada Lovelace"},
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price": unit_price, "tax": 0}],
        "shipping": {
            "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"},
            "method": "standard",
            "amount": 495,
        },
        "payment": {"provider": "sandbox", "token": "tok_visa"},
    }
    response = api.post("/v1/orders", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _ready(api: Api, order_id: str) -> dict[str, Any]:
    """Authorized, its fulfillment order waiting for the warehouse: nothing moves on its own."""
    return wait_for_order(
        api,
        order_id,
        lambda o: (
            o["payment_status"] == "authorized" and any(f["status"] == "allocated" for f in o["fulfillment_orders"])
        ),
    )


def _event(kind: str, event_id: str, reference: str, *, created: int, **data: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": kind,
        "created": created,
        "data": {"reference": reference, "payment_reference": reference, **data},
    }


def _post_event(api: Api, payload: dict[str, Any], *, secret: str | None = None) -> requests.Response:
    body, headers = sign_sandbox_event(payload, secret or DEV_WEBHOOK_SECRETS["sandbox"])
    return api.request("POST", WEBHOOK, key=None, data=body, headers=headers)


def _exceptions_of(api: Api, order_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"status": "open", "limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = api.get("/v1/exceptions", key=OPS, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        found += [e for e in page["items"] if e["order_id"] == order_id]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def _timeline_kinds(api: Api, order_id: str) -> list[str]:
    response = api.get(f"/v1/orders/{order_id}/timeline", key=OPS, params={"limit": 200})
    assert response.status_code == 200, response.text
    return [e["kind"] for e in response.json()["items"]]


def _ship(api: Api, fo_id: str, tracking: str) -> None:
    for step in ("accept", "pick", "pack"):
        response = api.post(f"/v1/fulfillment-orders/{fo_id}/{step}", {}, key=WMS)
        assert response.status_code == 200, response.text
    response = api.post(
        f"/v1/fulfillment-orders/{fo_id}/ship", {"carrier": "generic", "tracking_number": tracking}, key=WMS
    )
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def network(api: Api) -> Api:
    put_location(api, "wh-central", lat=50.11, lon=8.68)
    for sku in ("CX-PAY-DISPUTE", "CX-PAY-EXPIRE"):
        put_stock(api, "wh-central", sku, 20)
    return api


def test_a_duplicated_dispute_webhook_changes_nothing_and_a_forgery_is_refused(network: Api) -> None:
    api = network
    order_id = _place(api, "CX-DISPUTE-1", "CX-PAY-DISPUTE", 4200)["order_id"]
    ready = _ready(api, order_id)
    assert ready["status"] == "open"
    (payment,) = ready["payments"]
    reference = payment["reference"]
    now = int(time.time())
    opened = _event("dispute.opened", f"evt_cx_dispute_open_{order_id}", reference, created=now - 30, amount=4695)
    opened["data"]["reason"] = "fraudulent"

    first = _post_event(api, opened)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    assert first.json()["order_id"] == order_id
    held = get_order(api, order_id)
    assert held["status"] == "on_hold"
    (exception,) = _exceptions_of(api, order_id)
    assert exception["step"] == "PaymentDispute"
    assert _timeline_kinds(api, order_id).count("payment.dispute_opened") == 1

    again = _post_event(api, opened)
    assert again.status_code == 200, again.text
    assert again.json() == {"event_id": opened["id"], "duplicate": True}
    assert get_order(api, order_id) == held
    assert [e["exc_id"] for e in _exceptions_of(api, order_id)] == [exception["exc_id"]]
    assert _timeline_kinds(api, order_id).count("payment.dispute_opened") == 1

    closed = _event("dispute.closed", f"evt_cx_dispute_close_{order_id}", reference, created=now, reason="won")
    forged = _post_event(api, closed, secret="not-the-sandbox-secret")
    assert forged.status_code == 401, forged.text
    assert forged.headers["content-type"].startswith("application/problem+json")
    assert get_order(api, order_id) == held
    assert "payment.dispute_closed" not in _timeline_kinds(api, order_id)

    released = _post_event(api, closed)
    assert released.status_code == 200, released.text
    assert released.json()["duplicate"] is False
    restored = get_order(api, order_id)
    assert restored["status"] == "open"
    assert restored["payment_summary"] == ready["payment_summary"]
    assert _timeline_kinds(api, order_id).count("payment.dispute_closed") == 1


def test_an_expired_authorization_is_authorized_again_when_the_order_ships(network: Api) -> None:
    api = network
    placed = _place(api, "CX-EXPIRE-1", "CX-PAY-EXPIRE", 3100)
    order_id, total = placed["order_id"], placed["totals"]["total"]
    assert total == 3100 + 495
    ready = _ready(api, order_id)
    (first,) = ready["payments"]
    expired_event = _event(
        "authorization.expired",
        f"evt_cx_expired_{order_id}",
        first["reference"],
        created=int(time.time()),
        amount=total,
    )
    response = _post_event(api, expired_event)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "expired"
    expired = get_order(api, order_id)
    assert expired["payments"][0]["status"] == "expired"
    assert expired["payment_summary"]["available_to_capture"] == 0
    duplicate = _post_event(api, expired_event)
    assert duplicate.json()["duplicate"] is True

    (fo,) = [f for f in expired["fulfillment_orders"] if f["status"] == "allocated"]
    _ship(api, fo["fo_id"], "CXEXPIRE1")
    done = wait_for_order(api, order_id, lambda o: o["workflow"]["status"] == "SUCCEEDED")
    assert done["status"] == "completed"
    assert done["payment_status"] == "captured"
    old, replacement = done["payments"]
    assert old["payment_id"] == first["payment_id"]
    assert (old["status"], old["captured"]) == ("expired", 0)
    assert replacement["replaces"] == first["payment_id"]
    assert (replacement["authorized"], replacement["captured"], replacement["status"]) == (total, total, "captured")
    (invoice,) = done["invoices"]
    assert (invoice["amount"], invoice["payment_id"]) == (total, replacement["payment_id"])
    assert done["payment_summary"]["captured"] == total
    assert done["payment_summary"]["balance"] == 0
    assert "payment.reauthorized" in _timeline_kinds(api, order_id)
