"""Order import files: JSON lines and CSV read into orders, each with the file line it starts on."""

from __future__ import annotations

import pytest

from functions.channels.rules.order_files import UnreadableFile, is_csv, read_order_file

HEADER = (
    "channel,external_id,currency,customer_email,customer_name,ship_line1,ship_city,ship_postal_code,"
    "ship_country,shipping_method,payment_provider,payment_token,sku,quantity,unit_price,tax"
)
REST = "EUR,a@example.com,Ada,1 Main St,Berlin,10115,DE,standard,sandbox,tok"


def test_json_lines_keep_their_line_numbers_and_blank_lines_are_skipped():
    rows = read_order_file('{"external_id": "A"}\n\n[1]\n{"external_id": "B"}\n{oops\n', "application/x-ndjson")
    assert [(r.row, r.order, r.error is not None) for r in rows] == [
        (1, {"external_id": "A"}, False),
        (3, None, True),
        (4, {"external_id": "B"}, False),
        (5, None, True),
    ]


def test_csv_rows_of_one_order_are_grouped_and_a_bad_line_fails_its_whole_order():
    text = "\n".join(
        [
            HEADER,
            f"web,A,{REST},SKU-1,2,1000,190",
            f"web,A,{REST},SKU-2,1,500,95",
            f"web,B,{REST},SKU-1,x,1000,190",
            f"web,B,{REST},SKU-2,1,500,95",
            f"web,C,{REST},SKU-1,1,1000,",
        ]
    )
    rows = read_order_file(text, "text/csv")
    assert [r.row for r in rows] == [2, 4, 6]
    a = rows[0].order
    assert a is not None and a["lines"] == [
        {"sku": "SKU-1", "quantity": 2, "unit_price": 1000, "tax": 190},
        {"sku": "SKU-2", "quantity": 1, "unit_price": 500, "tax": 95},
    ]
    assert a["shipping"] == {
        "address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        "method": "standard",
        "amount": 0,
    }
    assert rows[1].order is None and "quantity" in (rows[1].error or "")
    c = rows[2].order
    assert c is not None and c["lines"] == [{"sku": "SKU-1", "quantity": 1, "unit_price": 1000}]


def test_the_format_follows_the_content_type_then_the_first_character():
    assert is_csv("a,b", "text/csv; charset=utf-8")
    assert not is_csv("{}", "application/x-ndjson")
    assert is_csv("channel,external_id", "application/octet-stream")
    assert not is_csv('  {"a": 1}', "")


@pytest.mark.parametrize("text", ["", "\n\n", "sku,quantity\nA,1\n"])
def test_a_file_without_orders_or_columns_is_unreadable(text):
    with pytest.raises(UnreadableFile):
        read_order_file(text, "text/csv" if "," in text else "")
