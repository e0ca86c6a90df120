"""Reading an order: the whole order but its timeline, in one query."""

from __future__ import annotations

import threading
from typing import Any

from shared.order import keys
from shared.order.record import load_order
from shared.order.timeline import append_event, timeline
from shared.table import Table
from tests.integration.test_capture_api import order_body, post


def test_the_order_is_read_in_one_query_that_sends_none_of_its_timeline(aws, monkeypatch):
    status, _, order = post(order_body("RECORD-1"))
    assert status == 201
    order_id = order["order_id"]
    for n in range(5):
        append_event(order_id, "note.added", {"n": n})
    answers: list[dict[str, Any]] = []
    call = Table._call

    reader = threading.get_ident()

    def watched(self: Table, operation: str, **params: Any) -> Any:
        out = call(self, operation, **params)
        if (
            threading.get_ident() == reader  # not the workflow's functions, run in this process meanwhile
            and operation == "Query"
            and {"S": keys.order_pk(order_id)} in params["ExpressionAttributeValues"].values()
        ):
            answers.append(out)
        return out

    # The order's workflow runs meanwhile and may add events: count them on both sides.
    before, _ = timeline(order_id, limit=50, cursor=None)
    monkeypatch.setattr(Table, "_call", watched)
    record = load_order(order_id)
    monkeypatch.setattr(Table, "_call", call)
    after, _ = timeline(order_id, limit=50, cursor=None)
    assert record is not None and record.header["order_id"] == order_id and len(record.lines) == 2
    (answer,) = answers
    sent = [item["sk"]["S"] for item in answer["Items"]]
    assert not [sk for sk in sent if sk.startswith(keys.EVENT_SK_PREFIX)]
    # Read all the same (the filter does not spare their read units), and still there for the timeline.
    assert len(before) <= answer["ScannedCount"] - answer["Count"] <= len(after) and len(before) >= 6
