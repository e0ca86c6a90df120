"""Carrier webhook formats: signatures, parsing of realistic payloads, and the tracking rule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata

import pytest

from functions.fulfill.logic.carriers import aftership, easypost, generic
from functions.fulfill.logic.carriers.registry import FORMATS, carrier_format, sign
from functions.fulfill.rules.tracking import RANKS, Outcome, Tracked, decide
from shared.errors import InvalidInput, MalformedInput

SECRET = "dev-carrier-secret"


def easypost_event(status: str = "delivered", details: list[dict] | None = None, **result: object) -> dict:
    """An EasyPost ``tracker.updated`` Event as EasyPost posts it (ids and codes from its test mode)."""
    if details is None:
        details = [
            _ep_detail("Pre-Shipment Info Sent to USPS", "pre_transit", "2024-04-03T18:07:42Z"),
            _ep_detail("Arrived at USPS Facility", "in_transit", "2024-04-04T19:10:42Z", "COLUMBIA", "SC"),
            _ep_detail("Out for Delivery", "out_for_delivery", "2024-04-06T07:41:42Z", "CHARLESTON", "SC"),
            _ep_detail("Delivered, In/At Mailbox", "delivered", "2024-04-06T13:11:42Z", "CHARLESTON", "SC"),
        ]
    tracker = {
        "id": "trk_c8e0edb5bb284caa934a0d3db23a148z",
        "object": "Tracker",
        "mode": "test",
        "tracking_code": "9400100000000000000000",
        "status": status,
        "status_detail": "arrived_at_destination",
        "created_at": "2024-04-03T18:07:42Z",
        "updated_at": "2024-04-06T13:11:42Z",
        "signed_by": "John Tester",
        "weight": None,
        "est_delivery_date": "2024-04-06T18:07:42Z",
        "shipment_id": None,
        "carrier": "USPS",
        "tracking_details": details,
        "carrier_detail": {"object": "CarrierDetail", "service": "First-Class Package Service"},
        "public_url": "https://track.easypost.com/djE6dHJrX2M4ZTBlZGI1YmIyODRj",
        "fees": [],
        **result,
    }
    return {
        "description": "tracker.updated",
        "mode": "test",
        "previous_attributes": {"status": "out_for_delivery"},
        "created_at": "2024-04-06T13:12:01.000Z",
        "pending_urls": ["https://oms.example.com/v1/webhooks/carriers/easypost"],
        "completed_urls": [],
        "updated_at": "2024-04-06T13:12:01.000Z",
        "id": "evt_6f2f3c1a098d11efb6a1ad2d9c0b4b25",
        "user_id": "user_060ab38db3c04ffaa60f262e5781a9be",
        "status": "pending",
        "object": "Event",
        "result": tracker,
    }


def _ep_detail(message: str, status: str, when: str, city: str | None = None, state: str | None = None) -> dict:
    return {
        "object": "TrackingDetail",
        "message": message,
        "description": "",
        "status": status,
        "status_detail": "status_update",
        "datetime": when,
        "source": "USPS",
        "carrier_code": "",
        "tracking_location": {"object": "TrackingLocation", "city": city, "state": state, "country": None, "zip": None},
    }


def aftership_webhook(tag: str = "Delivered", subtag: str = "Delivered_001", **extra: object) -> dict:
    """An AfterShip ``tracking_update`` webhook (tracking API 2024 shape)."""
    checkpoints = [
        _as_checkpoint("InfoReceived", "Shipper created a label", "2024-05-03T09:12:00+02:00", "Berlin, DE"),
        _as_checkpoint("InTransit", "Departed from facility", "2024-05-04T21:40:00+02:00", "Leipzig, DE"),
        _as_checkpoint("OutForDelivery", "Out for delivery", "2024-05-06T08:02:00+02:00", "Hamburg, DE"),
    ]
    if tag not in ("InfoReceived", "InTransit", "OutForDelivery", "Pending"):
        checkpoints.append(_as_checkpoint(tag, "Delivered - front door", "2024-05-06T11:58:00+02:00", "Hamburg, DE"))
    return {
        "event": "tracking_update",
        "event_id": "4f4b6b1e-6b0e-4f7a-9d2f-1c4f3e2a9b77",
        "is_tracking_first_tag": True,
        "msg": {
            "id": "5b74f4958776db0e00b6f5ed",
            "tracking_number": "1Z9999W99999999999",
            "slug": "ups",
            "active": False,
            "tag": tag,
            "subtag": subtag,
            "subtag_message": "Delivered",
            "title": "1Z9999W99999999999",
            "updated_at": "2024-05-06T10:05:11+00:00",
            "checkpoints": checkpoints,
        },
        "ts": 1714989911,
        **extra,
    }


def _as_checkpoint(tag: str, message: str, when: str, location: str) -> dict:
    return {
        "slug": "ups",
        "city": None,
        "created_at": "2024-05-06T10:05:11+00:00",
        "location": location,
        "country_name": "Germany",
        "message": message,
        "country_iso3": "DEU",
        "tag": tag,
        "subtag": f"{tag}_001",
        "checkpoint_time": when,
        "state": None,
        "zip": None,
    }


def raw(doc: object) -> bytes:
    return json.dumps(doc).encode()


# --- signatures -------------------------------------------------------------------------


def test_easypost_signature_is_nfkd_hmac_hex_with_prefix():
    body = raw(easypost_event())
    secret = "s\u00e9cr\ufb01t"  # é precomposed and the "fi" ligature: both change under NFKD
    expected = hmac.new(unicodedata.normalize("NFKD", secret).encode(), body, hashlib.sha256).hexdigest()
    headers = easypost.sign(body, secret)
    assert headers == {"X-Hmac-Signature": f"hmac-sha256-hex={expected}"}
    assert easypost.verify(body, {"x-hmac-signature": headers["X-Hmac-Signature"]}, secret)
    assert not easypost.verify(body, {"X-Hmac-Signature": expected}, secret)  # prefix required


def test_aftership_signature_is_base64_hmac():
    body = raw(aftership_webhook())
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert aftership.sign(body, SECRET) == {"aftership-hmac-sha256": expected}
    assert aftership.verify(body, {"Aftership-Hmac-Sha256": expected}, SECRET)


def test_generic_signature_is_prefixed_hex_hmac():
    body = b'{"event_id":"e1","tracking_number":"T1","status":"in_transit","occurred_at":"2024-05-01T10:00:00Z"}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert generic.sign(body, SECRET) == {"X-OMS-Signature": f"sha256={expected}"}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_refuses_a_tampered_body_a_wrong_secret_and_no_signature(name):
    fmt = FORMATS[name]
    body = raw({"any": "body"})
    headers = fmt.sign(body, SECRET)
    assert fmt.verify(body, headers, SECRET)
    assert not fmt.verify(body + b" ", headers, SECRET)
    assert not fmt.verify(body, headers, SECRET + "x")
    assert not fmt.verify(body, {}, SECRET)
    assert not fmt.verify(body, {fmt.signature_header: ""}, SECRET)


def test_a_carrier_without_a_format_of_its_own_speaks_the_generic_one():
    assert carrier_format("easypost") is easypost.FORMAT
    assert carrier_format("dhl") is generic.FORMAT
    assert sign("dhl", "{}", SECRET) == generic.sign(b"{}", SECRET)


# --- EasyPost ---------------------------------------------------------------------------


def test_easypost_tracker_update_becomes_its_current_status_at_its_scan_time():
    (event,) = easypost.parse(raw(easypost_event()), "easypost")
    assert event.source == "easypost"
    assert event.event_id == "evt_6f2f3c1a098d11efb6a1ad2d9c0b4b25"
    assert event.tracking_number == "9400100000000000000000"
    assert event.status == "delivered"
    assert event.occurred_at == "2024-04-06T13:11:42.000Z"
    assert event.description == "Delivered, In/At Mailbox"
    assert event.location == "CHARLESTON, SC"
    assert event.carrier == "USPS"
    assert event.carrier_status == "delivered"


def test_easypost_picks_the_latest_scan_of_the_status_whatever_the_list_order():
    details = [
        _ep_detail("Arrived at facility", "in_transit", "2024-04-05T10:00:00Z", "ATLANTA", "GA"),
        _ep_detail("Accepted", "in_transit", "2024-04-04T09:00:00Z", "MIAMI", "FL"),
        _ep_detail("Label", "pre_transit", "2024-04-03T09:00:00Z"),
    ]
    (event,) = easypost.parse(raw(easypost_event("in_transit", details)), "easypost")
    assert (event.occurred_at, event.location) == ("2024-04-05T10:00:00.000Z", "ATLANTA, GA")


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        ("pre_transit", "label_created"),
        ("in_transit", "in_transit"),
        ("out_for_delivery", "out_for_delivery"),
        ("available_for_pickup", "out_for_delivery"),
        ("delivered", "delivered"),
        ("return_to_sender", "returned_to_sender"),
        ("failure", "exception"),
        ("error", "exception"),
    ],
)
def test_easypost_statuses_map_to_ours(theirs, ours):
    (event,) = easypost.parse(raw(easypost_event(theirs, details=[])), "easypost")
    assert event.status == ours
    assert event.occurred_at == "2024-04-06T13:11:42.000Z"  # no scans: the tracker's own time


def test_easypost_events_without_a_tracking_status_carry_nothing():
    assert easypost.parse(raw(easypost_event("unknown")), "easypost") == []
    assert easypost.parse(raw({**easypost_event(), "description": "batch.updated"}), "easypost") == []


def test_easypost_payload_that_is_not_a_tracker_is_refused_with_its_field():
    with pytest.raises(InvalidInput) as err:
        easypost.parse(raw({**easypost_event(), "result": {"object": "Refund"}}), "easypost")
    assert err.value.errors[0]["field"] == "result"
    with pytest.raises(InvalidInput) as err:
        easypost.parse(raw(easypost_event(tracking_code="")), "easypost")
    assert err.value.errors[0]["field"] == "result.tracking_code"


# --- AfterShip --------------------------------------------------------------------------


def test_aftership_delivered_webhook_becomes_one_event_in_utc():
    (event,) = aftership.parse(raw(aftership_webhook()), "aftership")
    assert event.event_id == "4f4b6b1e-6b0e-4f7a-9d2f-1c4f3e2a9b77"
    assert event.tracking_number == "1Z9999W99999999999"
    assert event.status == "delivered"
    assert event.occurred_at == "2024-05-06T09:58:00.000Z"
    assert event.location == "Hamburg, DE"
    assert event.carrier == "ups"
    assert event.carrier_status == "Delivered_001"


@pytest.mark.parametrize(
    ("tag", "subtag", "ours"),
    [
        ("InfoReceived", "InfoReceived_001", "label_created"),
        ("InTransit", "InTransit_007", "in_transit"),
        ("OutForDelivery", "OutForDelivery_001", "out_for_delivery"),
        ("AvailableForPickup", "AvailableForPickup_001", "out_for_delivery"),
        ("AttemptFail", "AttemptFail_001", "exception"),
        ("Exception", "Exception_004", "exception"),
        ("Exception", "Exception_011", "returned_to_sender"),
        ("Expired", "Expired_001", "exception"),
    ],
)
def test_aftership_tags_map_to_ours(tag, subtag, ours):
    (event,) = aftership.parse(raw(aftership_webhook(tag, subtag)), "aftership")
    assert event.status == ours


def test_aftership_takes_the_latest_checkpoint_of_the_current_tag():
    (event,) = aftership.parse(raw(aftership_webhook("InTransit", "InTransit_007")), "aftership")
    assert event.occurred_at == "2024-05-04T19:40:00.000Z"
    assert event.description == "Departed from facility"


def test_aftership_pending_and_other_events_carry_nothing():
    assert aftership.parse(raw(aftership_webhook("Pending", "Pending_001")), "aftership") == []
    assert aftership.parse(raw(aftership_webhook(event="edd_revise")), "aftership") == []


def test_aftership_without_event_id_is_named_by_its_body():
    doc = aftership_webhook()
    del doc["event_id"]
    (first,) = aftership.parse(raw(doc), "aftership")
    (again,) = aftership.parse(raw(doc), "aftership")
    assert first.event_id == again.event_id
    assert first.event_id.startswith("sha256-")


# --- generic ----------------------------------------------------------------------------


def test_generic_single_event_and_batch():
    one = {"event_id": "e-1", "tracking_number": "TN1", "status": "in_transit", "occurred_at": "2024-05-01T10:00:00Z"}
    (event,) = generic.parse(raw(one), "generic")
    assert (event.event_id, event.status, event.occurred_at) == ("e-1", "in_transit", "2024-05-01T10:00:00.000Z")
    two = {**one, "event_id": "e-2", "status": "delivered", "occurred_at": "2024-05-02T12:30:00+02:00", "location": "X"}
    events = generic.parse(raw({"events": [one, two]}), "dhl")
    assert [(e.source, e.event_id, e.occurred_at) for e in events] == [
        ("dhl", "e-1", "2024-05-01T10:00:00.000Z"),
        ("dhl", "e-2", "2024-05-02T10:30:00.000Z"),
    ]


def test_generic_refuses_other_statuses_unknown_fields_and_bad_times():
    base = {"event_id": "e-1", "tracking_number": "TN1", "status": "in_transit", "occurred_at": "2024-05-01T10:00:00Z"}
    for doc, field in (
        ({**base, "status": "lost"}, "status"),
        ({**base, "colour": "red"}, "colour"),
        ({**base, "occurred_at": "yesterday"}, "occurred_at"),
        ({"events": []}, "events"),
    ):
        with pytest.raises(InvalidInput) as err:
            generic.parse(raw(doc), "generic")
        assert err.value.errors[0]["field"] == field, doc


@pytest.mark.parametrize("fmt", [easypost, aftership, generic])
def test_bodies_that_are_not_json_objects_are_malformed(fmt):
    for body in (b"not json", b"[1, 2]"):
        with pytest.raises(MalformedInput):
            fmt.parse(body, "x")


# --- the tracking rule ------------------------------------------------------------------

T1, T2, T3 = "2024-05-01T10:00:00.000Z", "2024-05-02T10:00:00.000Z", "2024-05-03T10:00:00.000Z"


def state(status: str | None, at: str | None, progress: int | None = None) -> Tracked:
    return Tracked.of({"tracking_status": status, "tracking_status_at": at, "tracking_rank": progress})


@pytest.mark.parametrize(
    ("current", "status", "at", "outcome"),
    [
        (state("label_created", None), "in_transit", T1, Outcome.APPLIED),
        (state("in_transit", T2), "in_transit", T3, Outcome.REFRESHED),
        (state("in_transit", T2), "in_transit", T1, Outcome.STALE),  # an older scan
        (state("in_transit", T2), "in_transit", T2, Outcome.STALE),  # the same scan
        (state("out_for_delivery", T2), "in_transit", T3, Outcome.STALE),  # never backwards
        (state("in_transit", T2), "out_for_delivery", T1, Outcome.STALE),  # older, though ahead
        (state("in_transit", T2), "exception", T3, Outcome.APPLIED),
        (state("in_transit", T2), "exception", T1, Outcome.STALE),
        (state("exception", T2, 2), "in_transit", T3, Outcome.APPLIED),  # the carrier moved on
        (state("exception", T2, 3), "in_transit", T3, Outcome.STALE),  # below the rank reached
        (state("exception", T2, 2), "label_created", T3, Outcome.STALE),
        (state("in_transit", T3), "delivered", T1, Outcome.APPLIED),  # terminal wins, keeps its time
        (state("exception", T3, 2), "returned_to_sender", T1, Outcome.APPLIED),
        (state("delivered", T2), "exception", T3, Outcome.STALE),  # exception never overrides delivered
        (state("delivered", T2), "delivered", T3, Outcome.STALE),
        (state("delivered", T2), "out_for_delivery", T3, Outcome.STALE),
        (state("delivered", T2), "returned_to_sender", T3, Outcome.APPLIED),
        (state("delivered", T2), "returned_to_sender", T1, Outcome.STALE),
        (state("returned_to_sender", T2), "delivered", T3, Outcome.STALE),  # terminal
    ],
)
def test_a_later_status_never_goes_backwards_and_an_older_scan_never_wins(current, status, at, outcome):
    assert decide(current, status, at) is outcome


def test_any_arrival_order_of_the_same_events_ends_in_the_same_state():
    import itertools

    events = [("label_created", T1), ("in_transit", T2), ("exception", "2024-05-02T12:00:00.000Z"), ("delivered", T3)]
    finals = set()
    for order in itertools.permutations(events):
        current = state("label_created", None)
        for status, at in order:
            if decide(current, status, at) in (Outcome.APPLIED, Outcome.REFRESHED):
                progress = max(current.progress, RANKS.get(status, 0))
                current = Tracked(status=status, at=at, progress=progress)
        finals.add((current.status, current.at))
    assert finals == {("delivered", T3)}
