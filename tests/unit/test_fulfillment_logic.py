"""Fulfillment rules without AWS: statuses, unit selection, allocation bookkeeping, pick lists."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions.allocate.store import consume_allocations
from functions.fulfill.logic.line_selection import selected_units, transaction_parts
from functions.fulfill.logic.models import LineQuantity, RejectRequest, ShipRequest
from functions.fulfill.logic.pick_list import pick_list, pick_list_html
from functions.fulfill.rules.status import open_units, settled_status
from functions.fulfill.rules.views import fulfillment_order_view
from functions.fulfill.store import applied, fo_write_op, new_fulfillment_order
from shared.errors import Conflict, InvalidInput
from shared.table import TRANSACTION_LIMIT


def _line(line_id: str, position: int, quantity: int, **buckets: int) -> dict:
    return {"line_id": line_id, "position": position, "sku": f"SKU-{position}", "quantity": quantity} | buckets


def _fo(*lines: dict, status: str = "allocated") -> dict:
    fo = new_fulfillment_order("ord_1", "fo_1", "wh-east", "standard", list(lines), [], "2026-01-01T00:00:00.000Z")
    return fo | {"status": status}


def _alloc(sk: str, line_id: str, quantity: int, **counts: int) -> dict:
    return {"pk": "ORDER#ord_1", "sk": sk, "line_id": line_id, "quantity": quantity, "status": "reserved"} | counts


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([_line("a", 1, 2, shipped=1)], "packed"),  # units still open: the status stands
        ([_line("a", 1, 2, shipped=1, rejected=1)], "fulfilled"),
        ([_line("a", 1, 2, shipped=2), _line("b", 2, 1, cancelled=1)], "fulfilled"),
        ([_line("a", 1, 2, rejected=2), _line("b", 2, 1, cancelled=1)], "rejected"),
        ([_line("a", 1, 2, cancelled=2)], "cancelled"),
    ],
)
def test_a_fulfillment_order_settles_once_nothing_is_open(lines, expected):
    assert settled_status("packed", lines) == expected


def test_open_units_are_what_is_neither_shipped_rejected_nor_cancelled():
    assert open_units(_line("a", 1, 7, shipped=2, rejected=1, cancelled=3)) == 1


def test_a_write_is_pinned_on_the_version_and_moves_the_indexes_with_the_status():
    fo = _fo(_line("a", 1, 2)) | {"version": 4}
    op = fo_write_op(fo, at="2026-01-02T00:00:00.000Z", status="accepted")
    update = op["Update"]
    assert update["ConditionExpression"] == "version = :ver"
    assert update["ExpressionAttributeValues"][":ver"] == 4
    after = applied(fo, op)
    assert after["version"] == 5 and after["status"] == "accepted"
    assert after["gsi1sk"] == "accepted#2026-01-01T00:00:00.000Z#fo_1"
    assert after["gsi3pk"] == "FOSTATUS#accepted"
    assert fulfillment_order_view(after)["accepted_at"] == "2026-01-02T00:00:00.000Z"


def test_consuming_allocations_takes_the_oldest_first_and_closes_each_when_used_up():
    allocations = [
        _alloc("ALLOC#00001#002#wh-east", "a", 3),
        _alloc("ALLOC#00001#001#wh-east", "a", 2, shipped=1),
        _alloc("ALLOC#00002#001#wh-east", "b", 5),
    ]
    ops, after = consume_allocations(allocations, "a", 3, "shipped", "t")
    by_sk = {a["sk"]: a for a in after}
    assert (by_sk["ALLOC#00001#001#wh-east"]["shipped"], by_sk["ALLOC#00001#001#wh-east"]["status"]) == (2, "shipped")
    assert (by_sk["ALLOC#00001#002#wh-east"]["shipped"], by_sk["ALLOC#00001#002#wh-east"]["status"]) == (2, "reserved")
    assert by_sk["ALLOC#00002#001#wh-east"] == allocations[2]
    assert [op["Update"]["Key"]["sk"] for op in ops] == ["ALLOC#00001#001#wh-east", "ALLOC#00001#002#wh-east"]
    assert ops[0]["Update"]["ExpressionAttributeValues"][":os"] == 1  # pinned on what it read
    released, _ = consume_allocations(after, "a", 1, "released", "t")
    assert released[0]["Update"]["ExpressionAttributeValues"][":st"] == "shipped"  # 2 shipped, 1 released
    with pytest.raises(ValueError):
        consume_allocations(after, "a", 2, "released", "t")


def test_selection_names_every_open_unit_or_refuses_what_is_not_there():
    fo = _fo(_line("b", 2, 3, shipped=1), _line("a", 1, 2), _line("c", 3, 1, rejected=1))
    assert [(line["line_id"], q) for line, q in selected_units(fo, None, "ship")] == [("a", 2), ("b", 2)]
    chosen = selected_units(fo, [LineQuantity(line_id="b", quantity=1)], "ship")
    assert [(line["line_id"], q) for line, q in chosen] == [("b", 1)]
    with pytest.raises(InvalidInput) as unknown:
        selected_units(fo, [LineQuantity(line_id="zz", quantity=1)], "ship")
    assert unknown.value.errors == [{"field": "lines.0.line_id", "message": "not a line of this fulfillment order"}]
    with pytest.raises(Conflict) as over:
        selected_units(fo, [LineQuantity(line_id="c", quantity=1)], "ship")
    assert over.value.errors == [{"field": "lines.0.quantity", "message": "only 0 open"}]
    with pytest.raises(Conflict) as closed:
        selected_units(_fo(_line("a", 1, 1, shipped=1), status="fulfilled"), None, "ship")
    assert closed.value.extra["current_status"] == "fulfilled"


def test_transaction_parts_keep_lines_whole_and_each_part_within_the_limit():
    lines = [_line(f"l{i}", i, 1) for i in range(1, 61)]
    allocations = [_alloc(f"ALLOC#{i:05d}#001#wh-east", f"l{i}", 1) for i in range(1, 61)]
    allocations += [_alloc(f"ALLOC#{i:05d}#002#wh-east", f"l{i}", 1) for i in range(1, 11)]
    chosen = [(line, 1) for line in lines]
    parts = transaction_parts(chosen, allocations, 4)
    assert [line for part in parts for line, _ in part] == lines
    for part in parts:
        size = 4 + sum(2 + (2 if int(line["position"]) <= 10 else 1) for line, _ in part)
        assert size <= TRANSACTION_LIMIT
    assert [len(part) for part in parts] == [28, 32]  # as full as the limit allows
    assert transaction_parts(chosen[:5], allocations, 4) == [chosen[:5]]


def test_requests_are_strict():
    with pytest.raises(ValidationError):
        ShipRequest.model_validate(
            {"carrier": "dhl", "tracking_number": "T1", "lines": [{"line_id": "a", "quantity": "2"}]}
        )
    with pytest.raises(ValidationError):
        ShipRequest.model_validate(
            {"carrier": "dhl", "tracking_number": "T1", "lines": [{"line_id": "a", "quantity": 1}] * 2}
        )
    with pytest.raises(ValidationError):
        ShipRequest.model_validate({"carrier": "dhl", "tracking_number": "has space"})
    with pytest.raises(ValidationError):
        RejectRequest.model_validate({"reason": "  "})
    assert RejectRequest.model_validate({"reason": "no stock"}).lines is None


def test_the_printable_pick_list_lists_open_units_and_escapes_what_customers_typed():
    fo = _fo(_line("a", 1, 3, shipped=1), _line("b", 2, 1, rejected=1))
    header = {
        "external_id": "W-<1>",
        "customer": {"name": "<script>x</script>"},
        "shipping": {"address": {"line1": "1 Main & Co", "city": "Berlin", "postal_code": "10115", "country": "DE"}},
    }
    pick = pick_list(fo, header)
    assert [(line["sku"], line["quantity"]) for line in pick["lines"]] == [("SKU-1", 2)]
    assert pick["total_units"] == 2
    page = pick_list_html(pick)
    assert "<script>" not in page and "&lt;script&gt;" in page and "1 Main &amp; Co" in page
    assert "SKU-1" in page and "SKU-2" not in page
