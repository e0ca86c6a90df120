"""What every endpoint refuses before it can corrupt state, and that each refusal is problem+json."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from functions.capture.handlers.api import handler as capture_handler
from functions.changes.handlers.api import handler as changes_handler
from functions.fulfill.handlers.carrier_webhooks import handler as carrier_handler
from functions.inventory.handlers.api import handler as inventory_handler
from functions.ops.handlers.api import handler as ops_handler
from functions.returns.handlers.api import handler as returns_handler
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS
from tests.integration.conftest import api_event, call
from tests.integration.test_inventory_api import availability, put_location, put_stock, request

PROBLEM = "application/problem+json"


def now(offset_seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_seconds)).isoformat()


def assert_problem(out, status: int, field: str | None = None) -> dict:
    code, headers, body = out
    assert code == status, body
    assert headers["Content-Type"] == PROBLEM
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}, body
    return dict(body)


# --- timestamps ahead of the clock -------------------------------------------------------


def test_a_stock_count_dated_in_the_future_is_refused_and_later_counts_still_apply(aws):
    assert put_location("wh-1")[0] == 200
    assert_problem(put_stock("wh-1", "TEE-M", {"on_hand": 1, "as_of": "9999-12-31T00:00:00Z"}), 422, "as_of")
    code, _, view = put_stock("wh-1", "TEE-M", {"on_hand": 7, "as_of": now()})
    assert code == 200 and view["applied"] and view["on_hand"] == 7


def test_a_count_within_the_allowed_clock_skew_is_accepted(aws, monkeypatch):
    assert put_location("wh-1")[0] == 200
    code, _, view = put_stock("wh-1", "TEE-M", {"on_hand": 3, "as_of": now(60)})
    assert code == 200 and view["on_hand"] == 3
    monkeypatch.setenv("MAX_CLOCK_SKEW_SECONDS", "0")
    from shared import warm_cache

    warm_cache.reset_all()
    assert_problem(put_stock("wh-1", "TEE-M", {"on_hand": 3, "as_of": now(60)}), 422, "as_of")


def test_a_carrier_scan_dated_in_the_future_is_refused(aws):
    import hashlib
    import hmac

    body = json.dumps(
        {"event_id": "e1", "tracking_number": "1Z999", "status": "delivered", "occurred_at": "2999-01-01T00:00:00Z"}
    )
    digest = hmac.new(DEV_WEBHOOK_SECRETS["generic"].encode(), body.encode(), hashlib.sha256).hexdigest()
    event = api_event(
        "POST",
        "/v1/webhooks/carriers/generic",
        resource="/v1/webhooks/carriers/{carrier}",
        body=body,
        key=None,
        headers={"X-OMS-Signature": f"sha256={digest}"},
    )
    assert_problem(call(carrier_handler, event), 422, "occurred_at")


# --- lists that are sets -----------------------------------------------------------------


def test_a_group_named_twice_is_refused_and_does_not_double_availability(aws):
    assert_problem(put_location("wh-1", groups=["eu", "eu"]), 422, "groups")
    assert put_location("wh-1", groups=["eu"])[0] == 200
    assert put_stock("wh-1", "TEE-M", {"on_hand": 5, "as_of": now()})[0] == 200
    code, _, view = availability(sku="TEE-M", group="eu")
    assert code == 200
    assert view["items"][0]["groups"]["eu"]["on_hand"] == 5


def test_a_cancellation_naming_a_line_twice_is_refused(aws):
    body = {
        "reason": "customer asked",
        "lines": [{"line_id": "ln_1", "quantity": 1}, {"line_id": "ln_1", "quantity": 1}],
    }
    event = api_event(
        "POST",
        "/v1/orders/ord_1/cancel",
        resource="/v1/orders/{order_id}/cancel",
        body=body,
        key="dev-agent-key",
        path_parameters={"order_id": "ord_1"},
    )
    assert_problem(call(changes_handler, event), 422, "lines")


def test_a_return_naming_a_line_twice_is_refused(aws):
    line = {"line_id": "ln_1", "quantity": 1, "reason": "too small"}
    event = api_event(
        "POST",
        "/v1/orders/ord_1/returns",
        resource="/v1/orders/{order_id}/returns",
        body={"lines": [line, line]},
        key="dev-agent-key",
        path_parameters={"order_id": "ord_1"},
    )
    assert_problem(call(returns_handler, event), 422, "lines")


def test_a_routing_policy_listing_a_location_twice_is_refused(aws):
    from functions.allocate.handlers.api import handler as routing_handler

    event = api_event(
        "PUT",
        "/v1/config/routing",
        resource="/v1/config/routing",
        body={"excluded_locations": ["wh-1", "wh-1"]},
        key="dev-ops-key",
    )
    assert_problem(call(routing_handler, event), 422, "excluded_locations")


# --- ids in paths, decoded once ----------------------------------------------------------


def test_a_sku_encoded_twice_is_refused_not_stored_with_its_percent(aws):
    assert put_location("wh-1")[0] == 200
    out = request(
        "PUT",
        "/v1/inventory/wh-1/TEE%252FM",
        "/v1/inventory/{location_id}/{sku}",
        body={"on_hand": 1, "as_of": now()},
        params={"location_id": "wh-1", "sku": "TEE%2FM"},
    )
    assert_problem(out, 422, "sku")
    code, _, view = availability(sku="TEE/M")
    assert code == 200 and view["items"][0]["available_to_promise"] == 0


def test_a_sku_with_a_slash_encoded_once_is_stored_decoded(aws):
    assert put_location("wh-1")[0] == 200
    code, _, view = put_stock("wh-1", "TEE/M", {"on_hand": 4, "as_of": now()})
    assert code == 200 and view["sku"] == "TEE/M"


@pytest.mark.parametrize("raw", ["wh%201", "wh%00x", "%E2%80%AEwh", "wh%2Fx"])
def test_a_location_id_outside_its_pattern_after_decoding_is_refused(aws, raw):
    out = request(
        "PUT",
        f"/v1/locations/{raw}",
        "/v1/locations/{location_id}",
        body={"name": "x", "type": "warehouse", "lat": 1.0, "lon": 1.0},
        params={"location_id": raw},
    )
    assert_problem(out, 422, "location_id")


def test_an_order_id_with_a_percent_left_after_decoding_is_refused(aws):
    event = api_event(
        "GET",
        "/v1/orders/ord%2525x",
        resource="/v1/orders/{order_id}",
        key="dev-ops-key",
        path_parameters={"order_id": "ord%25x"},
    )
    assert_problem(call(capture_handler, event), 422, "order_id")


# --- text without control or bidi characters ---------------------------------------------


@pytest.mark.parametrize("name", ["Berlin\x00", "Ber\u202elin", "Ber\u2066lin", "Ber\x1blin", "Ber\x85lin"])
def test_a_location_name_with_control_or_bidi_characters_is_refused(aws, name):
    assert_problem(put_location("wh-1", name=name), 422, "name")


def test_an_order_with_a_bidi_override_in_the_customer_name_is_refused(aws):
    import random

    from demo.samples import sample_order

    body = sample_order(random.Random(1), "web", "ext-1")
    body["customer"]["name"] = "Eve \u202egnp.exe"
    event = api_event("POST", "/v1/orders", resource="/v1/orders", body=body, key="dev-web-key")
    assert_problem(call(capture_handler, event), 422, "customer.name")


def test_an_exception_note_with_a_nul_is_refused(aws):
    event = api_event(
        "POST",
        "/v1/exceptions/exc_1/resolve",
        resource="/v1/exceptions/{exc_id}/resolve",
        body={"note": "done\x00"},
        key="dev-ops-key",
        path_parameters={"exc_id": "exc_1"},
    )
    assert_problem(call(ops_handler, event), 422, "note")


# --- strict types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"), [("active", 0), ("active", "true"), ("lat", True), ("lat", "52.5"), ("daily_capacity", "5")]
)
def test_a_location_takes_no_lax_coercions(aws, field, value):
    assert_problem(put_location("wh-1", **{field: value}), 422, field)


@pytest.mark.parametrize("as_of", [0, 1_700_000_000, True])
def test_as_of_must_be_a_time_with_its_offset_not_a_number(aws, as_of):
    assert put_location("wh-1")[0] == 200
    assert_problem(put_stock("wh-1", "TEE-M", {"on_hand": 1, "as_of": as_of}), 422, "as_of")


def test_on_hand_must_be_a_json_integer(aws):
    assert put_location("wh-1")[0] == 200
    assert_problem(put_stock("wh-1", "TEE-M", {"on_hand": "5", "as_of": now()}), 422, "on_hand")


# --- bodies no route can read: problem+json, never a crash -------------------------------


def _post_location(body: str, headers: dict[str, str], *, encoded: bool = False):
    event = api_event(
        "PUT",
        "/v1/locations/wh-1",
        resource="/v1/locations/{location_id}",
        body=body,
        key="dev-ops-key",
        headers=headers,
        path_parameters={"location_id": "wh-1"},
    )
    event["isBase64Encoded"] = encoded
    return call(inventory_handler, event)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/merge-patch+json",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
    ],
)
def test_a_body_that_is_not_json_is_415(aws, content_type):
    assert_problem(_post_location("name=x", {"content-type": content_type}), 415)


def test_a_body_that_is_not_utf8_is_400(aws):
    raw = base64.b64encode(b'{"name": "\xff\xfe"}').decode()
    assert_problem(_post_location(raw, {"content-type": "application/json"}, encoded=True), 400, "body")


def test_a_deeply_nested_body_is_400(aws):
    for depth in (40, 100_000):
        body = "[" * depth + "]" * depth
        assert_problem(_post_location(body, {"content-type": "application/json"}), 400, "body")


def test_malformed_json_is_400(aws):
    assert_problem(_post_location('{"name": ', {"content-type": "application/json"}), 400, "body")


def test_json_with_a_charset_is_accepted_in_utf8_only(aws):
    body = json.dumps({"name": "Berlin", "type": "warehouse", "lat": 52.5, "lon": 13.4})
    code, _, view = _post_location(body, {"content-type": "application/json; charset=utf-8"})
    assert code == 200, view
    assert_problem(_post_location(body, {"content-type": "application/json; charset=latin-1"}), 415)
