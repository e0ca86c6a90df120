"""Which orders a batch of table stream records names, and which of them only gained lines."""

from __future__ import annotations

from typing import Any

from functions.customers.logic.projection import orders_of_records


def _record(event: str, pk: str, sk: str) -> dict[str, Any]:
    return {"eventName": event, "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}}}


def test_each_order_once_in_order_of_appearance_and_whether_it_only_gained_lines() -> None:
    records = [
        _record("INSERT", "ORDER#ord_b", "LINE#00001"),
        _record("INSERT", "ORDER#ord_a", "LINE#00001"),
        _record("INSERT", "ORDER#ord_b", "LINE#00002"),
        _record("INSERT", "ORDER#ord_a", "HEADER"),
        _record("MODIFY", "ORDER#ord_c", "LINE#00001"),
        _record("REMOVE", "ORDER#ord_d", "LINE#00001"),
        _record("INSERT", "STOCK#SKU-1", "LOC#wh-east"),
    ]
    orders = orders_of_records(records)
    assert orders == {"ord_b": True, "ord_a": False, "ord_c": False, "ord_d": False}
    assert list(orders) == ["ord_b", "ord_a", "ord_c", "ord_d"]


def test_a_header_after_the_lines_in_the_same_batch_reads_the_whole_order() -> None:
    records = [_record("INSERT", "ORDER#ord_a", "LINE#00001"), _record("INSERT", "ORDER#ord_a", "HEADER")]
    assert orders_of_records(records) == {"ord_a": False}
    assert orders_of_records([]) == {}
