"""The benchmark meter's item sizes (tests/benchmarks/aws_meter.py) follow DynamoDB's
documented rules ("Item sizes and formats"): attribute names plus typed values, a List or
Map 3 bytes plus 1 per element, a number 1 byte per two significant digits plus 1. Every
expected size below is worked out by hand from those rules."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.benchmarks.aws_meter import (
    AwsMeter,
    IndexShape,
    IndexWrite,
    index_entry_size,
    index_writes,
    item_size,
    value_size,
)

KEY = {"pk": {"S": "ORDER#1"}, "sk": {"S": "HEADER"}}  # 2 + 7 + 2 + 6 = 17 bytes
# 6 ("totals") + 3 + (1 + 8 "subtotal" + 3 for 8997) + (1 + 3 "tax" + 2 for 0) = 27 bytes
TOTALS = {"totals": {"M": {"subtotal": {"N": "8997"}, "tax": {"N": "0"}}}}


def _n(text: str) -> dict[str, Any]:
    return {"N": text}


def test_a_flat_item_is_its_names_plus_its_values() -> None:
    item = {
        **KEY,  # 17
        "qty": _n("12"),  # 3 + 2
        "ok": {"BOOL": True},  # 2 + 1
        "note": {"NULL": True},  # 4 + 1
        "name": {"S": "Zoë"},  # 4 + 4 (ë is 2 bytes in UTF-8)
        "b": {"B": base64.b64encode(b"hello").decode()},  # 1 + 5 raw bytes, not the 8 of base64
    }
    assert item_size(item) == 17 + 5 + 3 + 5 + 8 + 6


def test_a_nested_map_costs_3_bytes_and_1_per_element_with_its_key_names() -> None:
    assert item_size(TOTALS) == 27
    shipping = {"M": {"address": {"M": {"city": {"S": "Berlin"}}}, "amount": _n("499")}}
    # inner map 3 + (1 + 4 + 6) = 14; outer 3 + (1 + 7 + 14) + (1 + 6 + 3) = 35
    assert value_size(shipping) == 35
    assert item_size({"shipping": shipping}) == 8 + 35
    assert item_size({"m": {"M": {}}, "l": {"L": []}}) == (1 + 3) + (1 + 3)


def test_a_list_of_maps() -> None:
    lines = {
        "L": [
            {"M": {"sku": {"S": "A1"}, "qty": _n("2")}},  # 3 + (1 + 3 + 2) + (1 + 3 + 2) = 15
            {"M": {"sku": {"S": "B22"}, "qty": _n("10")}},  # 3 + (1 + 3 + 3) + (1 + 3 + 2) = 16
        ]
    }
    # 3 + (1 + 15) + (1 + 16) = 36, plus the name "lines"
    assert item_size({"lines": lines}) == 5 + 36


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("0", 2),  # a zero counts as one digit
        ("7", 2),
        ("12", 2),
        ("101", 3),
        ("10", 2),  # the trailing zero is trimmed
        ("100000000000000000000", 2),
        ("0.000123", 3),  # leading zeros trimmed: 123
        ("-1234.5670", 5),  # 1234567: 7 digits, 4 bytes, plus 1
        ("12345678901234567890123456789012345678", 20),  # 38 digits, DynamoDB's most
    ],
)
def test_a_number_is_1_byte_per_two_significant_digits_plus_1(number: str, size: int) -> None:
    assert value_size(_n(number)) == size


def test_sets_are_the_sum_of_their_members() -> None:
    assert value_size({"SS": ["a", "bc"]}) == 3
    assert value_size({"NS": ["1", "22", "333"]}) == 2 + 2 + 3
    assert value_size({"BS": [base64.b64encode(b"\x00\x01\x02").decode()]}) == 3


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError):
        value_size({"X": "1"})


def _item_of(size: int) -> dict[str, Any]:
    """The key, the totals map and a string padding the item to ``size`` bytes."""
    item = {**KEY, **TOTALS, "blob": {"S": ""}}
    item["blob"] = {"S": "x" * (size - item_size(item))}
    return item


def test_1024_bytes_is_one_write_unit_and_1025_two() -> None:
    meter = AwsMeter()
    at, over = _item_of(1024), _item_of(1025)
    # 17 + 27 + 4 ("blob") + 976 x's
    assert len(at["blob"]["S"]) == 976 and item_size(at) == 1024
    assert meter._write_units("PutItem", {"Item": at}) == 1
    assert meter._write_units("PutItem", {"Item": over}) == 2
    puts = [{"Put": {"TableName": "t", "Item": at}}, {"Put": {"TableName": "t", "Item": over}}]
    transaction = {"TransactItems": puts}
    assert meter._write_units("TransactWriteItems", transaction) == 2 * 1 + 2 * 2
    batch = {"RequestItems": {"t": [{"PutRequest": {"Item": at}}, {"PutRequest": {"Item": over}}]}}
    assert meter._write_units("BatchWriteItem", batch) == 1 + 2


def test_4096_bytes_is_one_read_unit_and_4097_two_halved_when_eventually_consistent() -> None:
    at, over = _item_of(4096), _item_of(4097)
    assert AwsMeter._read("GetItem", {"ConsistentRead": True}, {"Item": at}) == 1
    assert AwsMeter._read("GetItem", {"ConsistentRead": True}, {"Item": over}) == 2
    assert AwsMeter._read("GetItem", {}, {"Item": over}) == 1
    # A query's items are summed before rounding: two 2,048-byte items are one 4 KB read.
    half = _item_of(2048)
    assert AwsMeter._read("Query", {"ConsistentRead": True}, {"Items": [half, half]}) == 1


def test_a_nested_item_under_1_kb_is_one_write_unit_though_its_json_is_longer() -> None:
    # 60 maps {"q": 0}: each 3 + (1 + 1 + 2) = 7, and 1 as a list element
    lines = {"L": [{"M": {"q": _n("0")}} for _ in range(60)]}
    item = {**KEY, "lines": lines}
    assert item_size(item) == 17 + 5 + 3 + 60 * 8
    assert AwsMeter()._write_units("PutItem", {"Item": item}) == 1


def test_an_index_entry_is_its_projected_attributes_plus_100_bytes() -> None:
    keys_only = IndexShape("gsi1", "gsi1pk", "gsi1sk", "KEYS_ONLY")
    index_keys = {"gsi1pk": {"S": "ORDERS#01"}, "gsi1sk": {"S": "2026#1"}}  # 6 + 9 + 6 + 6 = 27
    assert index_entry_size({**KEY, **index_keys}) == 17 + 27 + 100
    # An item of 925 bytes is 1 write unit in the table; all of it projected, its entry is 1,025.
    item = {**index_keys, **_item_of(925 - 27)}
    assert item_size(item) == 925
    assert AwsMeter()._write_units("PutItem", {"Item": item}) == 1
    everything = IndexShape("gsi1", "gsi1pk", "gsi1sk", "ALL")
    assert index_writes(None, item, [everything]) == [IndexWrite("gsi1", "ORDERS#01", 2)]
    assert index_writes(None, item, [keys_only]) == [IndexWrite("gsi1", "ORDERS#01", 1)]
