"""The local stack's clock readings and EventBridge matching give what moto's give, cheaper
(moto_patches 40 and 41)."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any

import pytest
from moto.events import models as events_models

from infra.local import moto_patches

MOMENTS = [
    datetime(1970, 1, 1),
    datetime(1969, 12, 31, 23, 59, 59, 999_999),
    datetime(2026, 12, 4, 23, 59, 59, 999_999),
    datetime(2026, 2, 28, 12, 0, 0, 1),
    datetime(2099, 7, 1, 0, 0, 0, 500_000),
]


def test_every_moto_module_reads_the_clock_by_the_patched_functions(aws) -> None:
    originals = {id(f) for f in moto_patches._MOTO_CLOCK.values()}
    assert len(originals) == 3
    still = [
        f"{name}.{attribute}"
        for name, module in list(sys.modules.items())
        if module is not None and name.startswith("moto")
        for attribute in ("utcnow", "unix_time", "utcfromtimestamp")
        if id(getattr(module, attribute, None)) in originals
    ]
    assert still == []


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_the_clock_readings_are_motos_to_the_microsecond(aws, moment: datetime) -> None:
    clock = moto_patches._MOTO_CLOCK
    assert moto_patches._unix_time(moment) == clock["unix_time"](moment)
    seconds = clock["unix_time"](moment)
    assert moto_patches._utcfromtimestamp(seconds) == clock["utcfromtimestamp"](seconds)


def test_the_clock_reads_now(aws) -> None:
    clock = moto_patches._MOTO_CLOCK
    before = clock["unix_time"]()
    now = moto_patches._unix_time()
    assert before <= now <= clock["unix_time"]() and abs(now - time.time()) < 1
    assert abs((moto_patches._utcnow() - clock["utcnow"]()).total_seconds()) < 1


PATTERNS: list[dict[str, Any]] = [
    {"source": ["oms"]},
    {"source": ["oms"], "detail-type": ["order.confirmed", "shipment.shipped"]},
    {"detail": {"order": {"status": ["open"]}}},
    {"detail-type": [{"prefix": "shipment."}]},
    {"$or": [{"source": ["other"]}, {"detail": {"amount": [{"numeric": [">", 100]}]}}]},
]
EVENTS: list[dict[str, Any]] = [
    {"source": "oms", "detail-type": "order.confirmed", "detail": {"order": {"status": "open"}, "amount": 50}},
    {"source": "oms", "detail-type": "shipment.delayed", "detail": {"order": {"status": "done"}, "amount": 500}},
    {"source": "other", "detail-type": "x", "detail": {}, "resources": [], "time": 1.5},
]


@pytest.mark.parametrize("pattern", PATTERNS, ids=json.dumps)
def test_a_rule_matches_an_event_as_moto_does_without_writing_it_to_json(
    aws, pattern: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rule_pattern = events_models.EventPattern.load(json.dumps(pattern))
    expected = [moto_patches._ORIGINAL_MATCHES_EVENT(rule_pattern, event) for event in EVENTS]
    written: list[Any] = []
    dumps = json.dumps

    def counted(value: Any, **kw: Any) -> str:
        written.append(value)
        return dumps(value, **kw)

    monkeypatch.setattr(events_models.json, "dumps", counted)
    assert [rule_pattern.matches_event(event) for event in EVENTS] == expected  # type: ignore[arg-type]
    assert written == []
    assert True in expected and False in expected  # each pattern lets some of the events through, not all
