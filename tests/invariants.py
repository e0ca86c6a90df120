"""The invariants of docs/invariants.md, checked against the table once writers are at rest.

Shared by the soak (tests/integration/test_soak.py), the fault tests
(tests/integration/test_faults.py) and the model-based test over HTTP
(tests/e2e/test_model_http.py). Each check counts itself and records what it found
broken, so a run reports how many invariants it checked and every violation at once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from functions.inventory.api import stock_pk, stock_sk
from functions.payments.rules.ledger import reserved_refunds
from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord, load_order
from shared.table import Item, Table


@dataclass
class Findings:
    checks: int = 0
    violations: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str) -> None:
        self.checks += 1
        if not ok:
            self.violations.append(what)


def _held(allocation: Item) -> int:
    return int(allocation["quantity"]) - int(allocation.get("shipped", 0)) - int(allocation.get("released", 0))


def check_lines(record: OrderRecord, found: Findings) -> None:
    """Every line's buckets keep their invariants, and ``allocated`` is exactly what the
    allocation items hold or shipped (a stock hold nobody counts is a leak)."""
    order_id = record.header["order_id"]
    by_line: Counter[str] = Counter()
    for alloc in record.others.get("ALLOC", []):
        by_line[alloc["line_id"]] += int(alloc["quantity"]) - int(alloc.get("released", 0))
    for line in record.lines:
        q = LineQuantities.of(line)
        found.expect(q.consistent(), f"{order_id} {line['line_id']}: buckets {q.as_dict()} break {q.broken()}")
        found.expect(
            by_line[line["line_id"]] == q.allocated,
            f"{order_id} {line['line_id']}: allocated {q.allocated}, allocation items hold {by_line[line['line_id']]}",
        )


def check_fulfillment(record: OrderRecord, found: Findings) -> None:
    """What fulfillment orders still have open is held by allocation items, unit for unit."""
    order_id = record.header["order_id"]
    held: Counter[str] = Counter()
    for alloc in record.others.get("ALLOC", []):
        if alloc.get("status") == "reserved":
            held[alloc["line_id"]] += _held(alloc)
    open_on_fos: Counter[str] = Counter()
    for fo in record.others.get("FO", []):
        for fo_line in fo["lines"]:
            done = sum(int(fo_line.get(k, 0)) for k in ("shipped", "rejected", "cancelled"))
            open_on_fos[fo_line["line_id"]] += int(fo_line["quantity"]) - done
    for line_id, q in ((line["line_id"], LineQuantities.of(line)) for line in record.lines):
        found.expect(
            open_on_fos[line_id] <= held[line_id],
            f"{order_id} {line_id}: fulfillment orders have {open_on_fos[line_id]} open, stock holds {held[line_id]}",
        )
        found.expect(
            open_on_fos[line_id] <= q.unshipped,
            f"{order_id} {line_id}: fulfillment orders have {open_on_fos[line_id]} open of {q.unshipped} unshipped",
        )


def check_money(record: OrderRecord, found: Findings) -> None:
    """Per payment: captured + released <= authorized, refunded + pending <= captured;
    per order: refunds reserved for changes fit in what is refundable."""
    order_id = record.header["order_id"]
    refundable = 0
    for p in record.others.get("PAY", []):
        captured, refunded, pending = int(p["captured"]), int(p["refunded"]), int(p["refund_pending"])
        released, authorized = int(p.get("released", 0)), int(p["authorized"])
        found.expect(captured + released <= authorized, f"{order_id} {p['payment_id']}: captured > authorized")
        found.expect(refunded + pending <= captured, f"{order_id} {p['payment_id']}: refunded > captured")
        refundable += captured - refunded - pending
    reserved = sum(reserved_refunds(record.header).values())
    found.expect(reserved <= refundable, f"{order_id}: reserved {reserved} > refundable {refundable}")
    invoiced = sum(int(i["amount"]) for i in record.others.get("INV", []))
    captured_total = sum(int(p["captured"]) for p in record.others.get("PAY", []))
    found.expect(invoiced == captured_total, f"{order_id}: invoices {invoiced} != captured {captured_total}")


def check_order(
    order_id: str,
    found: Findings,
    *,
    shipped: Mapping[tuple[str, str], int] | None = None,
    cancelled: Mapping[tuple[str, str], int] | None = None,
) -> OrderRecord:
    """Every invariant of one order; with a model, its shipped and cancelled units too."""
    record = load_order(order_id)
    assert record is not None, order_id
    check_lines(record, found)
    check_fulfillment(record, found)
    check_money(record, found)
    for line in record.lines:
        q, key = LineQuantities.of(line), (order_id, line["line_id"])
        if shipped is not None:
            found.expect(q.shipped == shipped.get(key, 0), f"{key}: shipped {q.shipped}, model {shipped.get(key, 0)}")
        if cancelled is not None:
            found.expect(
                q.cancelled == cancelled.get(key, 0), f"{key}: cancelled {q.cancelled}, model {cancelled.get(key, 0)}"
            )
    return record


def check_stock(order_ids: Iterable[str], stock: Iterable[tuple[str, str]], found: Findings) -> None:
    """For stock items only these orders use, (sku, location): ``reserved`` is what their
    allocation items still hold, and ``available`` is on hand less reserved and safety stock."""
    held: defaultdict[tuple[str, str], int] = defaultdict(int)
    for order_id in order_ids:
        record = load_order(order_id)
        for alloc in record.others.get("ALLOC", []) if record else []:
            if alloc.get("status") == "reserved":
                held[(alloc["sku"], alloc["location_id"])] += _held(alloc)
    table = Table()
    for sku, location_id in stock:
        item = table.get(stock_pk(sku), stock_sk(location_id)) or {}
        reserved, on_hand = int(item.get("reserved", 0)), int(item.get("on_hand", 0))
        found.expect(
            reserved == held[(sku, location_id)],
            f"stock {sku}@{location_id}: reserved {reserved}, allocations hold {held[(sku, location_id)]}",
        )
        if item:
            expected = on_hand - reserved - int(item.get("safety_stock", 0))
            found.expect(
                int(item["available"]) == expected, f"stock {sku}@{location_id}: available {item['available']}"
            )
