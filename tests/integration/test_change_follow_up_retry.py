"""An operator's retry of a change order's follow-up that failed after the change committed.

The change stays; its follow-up (stock given back, fulfillment orders giving up the
units, the authorization released, the refund) failed and was parked as a process
exception. The operator's retry must run the follow-up again, finishing what is left and
repeating nothing, and close the exception only once it went through.
"""

from __future__ import annotations

from typing import Any

import pytest

from functions.changes.logic import cancel as cancelling
from functions.fulfill.store import fulfillment_orders_of
from functions.ops.logic.exceptions import retry as retry_exception
from infra.local import moto_patches
from shared.errors import Conflict
from shared.order.record import load_order
from shared.process_exceptions import get_exception
from tests.integration.test_faults import OPS, _cancel, _invariants, _open_exceptions, _order


def _refused(*_args: Any, **_kwargs: Any) -> None:
    raise Conflict("the provider refused for now")


def _released(order_id: str) -> int:
    record = load_order(order_id)
    assert record is not None
    return sum(int(p.get("released", 0)) for p in record.others.get("PAY", []))


def _cancelled_on_fulfillment(order_id: str) -> int:
    return sum(int(line.get("cancelled", 0)) for fo in fulfillment_orders_of(order_id) for line in fo["lines"])


def _cancel_one_with(order_id: str, line_id: str, monkeypatch: pytest.MonkeyPatch, step: str) -> dict[str, Any]:
    """Cancel one unit while the follow-up's ``step`` fails; the change's open exception."""
    with monkeypatch.context() as patch:
        patch.setattr(cancelling, step, _refused)
        status, change = _cancel(order_id, [{"line_id": line_id, "quantity": 1}])
    assert status == 201, change
    moto_patches.wait_for_streams()
    (exception,) = _open_exceptions(order_id)
    assert exception["step"] == "CancelOrder"
    assert exception["retry"]["change_id"] == change["change_id"]
    return change


def test_the_retry_runs_the_whole_follow_up_again_and_then_closes_the_exception(aws, monkeypatch):
    order_id, fo = _order("FOLLOW-UP-ALL", "FOLLOW-UP-ALL")
    change = _cancel_one_with(order_id, fo["lines"][0]["line_id"], monkeypatch, "release_cancelled_units")
    assert _cancelled_on_fulfillment(order_id) == 0  # nothing of the follow-up ran
    assert _released(order_id) == 0
    assert _invariants(order_id, "FOLLOW-UP-ALL").violations  # the stock still holds the unit

    closed = retry_exception(OPS, _open_exceptions(order_id)[0]["exc_id"], note="provider is back")
    moto_patches.wait_for_streams()

    assert closed.status == "retried"
    assert _open_exceptions(order_id) == []
    assert _cancelled_on_fulfillment(order_id) == 1
    assert _released(order_id) == int(change["release"]["amount"]) > 0
    found = _invariants(order_id, "FOLLOW-UP-ALL")
    assert not found.violations, found.violations


def test_the_retry_finishes_what_is_left_and_repeats_nothing(aws, monkeypatch):
    """The stock went back before the authorization's release failed: the retry releases
    the authorization and gives back no unit a second time."""
    order_id, fo = _order("FOLLOW-UP-REST", "FOLLOW-UP-REST")
    change = _cancel_one_with(order_id, fo["lines"][0]["line_id"], monkeypatch, "release_authorization")
    assert _cancelled_on_fulfillment(order_id) == 1
    assert _released(order_id) == 0

    retry_exception(OPS, _open_exceptions(order_id)[0]["exc_id"], note="")
    moto_patches.wait_for_streams()

    assert _open_exceptions(order_id) == []
    assert _cancelled_on_fulfillment(order_id) == 1
    assert _released(order_id) == int(change["release"]["amount"]) > 0
    found = _invariants(order_id, "FOLLOW-UP-REST")
    assert not found.violations, found.violations


def test_a_retry_that_fails_again_keeps_the_exception_open(aws, monkeypatch):
    order_id, fo = _order("FOLLOW-UP-AGAIN", "FOLLOW-UP-AGAIN")
    change = _cancel_one_with(order_id, fo["lines"][0]["line_id"], monkeypatch, "release_authorization")
    (exception,) = _open_exceptions(order_id)

    with monkeypatch.context() as patch:
        patch.setattr(cancelling, "release_authorization", _refused)
        with pytest.raises(Conflict, match="failed again"):
            retry_exception(OPS, exception["exc_id"], note="")
    assert get_exception(exception["exc_id"])["status"] == "open"
    assert _released(order_id) == 0

    retry_exception(OPS, exception["exc_id"], note="")
    assert get_exception(exception["exc_id"])["status"] == "retried"
    assert _released(order_id) == int(change["release"]["amount"])
    with pytest.raises(Conflict):  # closed once: a second retry runs nothing
        retry_exception(OPS, exception["exc_id"], note="")
    assert _released(order_id) == int(change["release"]["amount"])
