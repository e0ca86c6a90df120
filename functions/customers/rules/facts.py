"""An order's facts: what one order contributes to the customer, report and demand read models.

Pure: recomputed from the order's own items every time what it reads of them changes, so a
redelivered or out-of-order stream record yields the same facts, and the read models
(sums of these facts) stay exact. docs/reports.md defines every figure built from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord

MAX_DEMAND_SKUS = 90

# Figures of one order that the customer's lifetime counters add up.
LIFETIME_FIELDS = (
    "orders",
    "units",
    "units_cancelled",
    "units_shipped",
    "units_returned",
    "ordered",
    "cancelled",
    "captured",
    "refunded",
    "returns",
)


def placed_at(header: Mapping[str, Any]) -> str:
    """When the customer placed the order: the channel's time for imported history, else capture."""
    return str(header.get("placed_at") or header["created_at"])


# What the facts read of each kind of item under ``ORDER#<id>`` (the kind is the sort key's
# prefix, as ``load_order`` groups them; a dotted name is a member of a map; ``name=value``
# reads the field only while it holds that value, for facts that ask only whether it does).
# The facts are computed from these alone (``order_facts``), so a change that leaves them as
# they were, or to an item of a kind not named here, cannot change the facts
# (``may_change_facts``): an order's fulfillment moving from allocated to shipped, or a
# line's units moving between buckets the facts do not count, projects nothing.
_READ: dict[str, tuple[str, ...]] = {
    "HEADER": (
        "order_id",
        "customer_id",
        "channel",
        "currency",
        "placed_at",
        "created_at",
        "status",
        "totals.total",
        "payment_totals.captured",
        "payment_totals.refunded",
        "fulfillment_status=backordered",
        "delivered_at",
        "rejected_locations",
    ),
    "LINE": (
        "line_id",
        "sku",
        "quantity",
        "quantities.ordered",
        "quantities.cancelled",
        "quantities.shipped",
        "quantities.returned",
        "change_id",
    ),
    "ALLOC": ("line_id", "location_id", "quantity", "round"),
    "SHP": ("location_id", "shipped_at"),
    "CHG": ("kind", "totals.total"),
    "RET": (),  # counted, nothing more
}


def _field(entry: str) -> tuple[str, str, str]:
    """A ``_READ`` entry as (name, map member, the one value read); the last two may be empty."""
    path, _, only = entry.partition("=")
    name, _, member = path.partition(".")
    return name, member, only


# Parsed once: every stream record's old and new item is read through them.
_FIELDS = {kind: tuple(_field(entry) for entry in fields) for kind, fields in _READ.items()}


def _inputs(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the facts read of one item of an order (None: nothing, the item is not read)."""
    return _read(str(item.get("sk", "")).split("#", 1)[0], item)


def _read(kind: str, item: Mapping[str, Any]) -> dict[str, Any] | None:
    fields = _FIELDS.get(kind)
    if fields is None:
        return None
    read: dict[str, Any] = {}
    for name, member, only in fields:
        value = item.get(name)
        if only:
            if value == only:
                read[name] = value
        elif member:
            if isinstance(value, Mapping) and member in value:
                read.setdefault(name, {})[member] = value[member]
        elif name in item:
            read[name] = value
    return read


def may_change_facts(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    """Whether an item going from ``old`` to ``new`` (None: absent) can change its order's facts."""
    return (_inputs(old) if old is not None else None) != (_inputs(new) if new is not None else None)


def order_facts(record: OrderRecord) -> dict[str, Any]:
    return _facts(
        OrderRecord(
            header=_read("HEADER", record.header) or {},
            lines=[_read("LINE", line) or {} for line in record.lines],
            others={k: [_read(k, i) or {} for i in items] for k, items in record.others.items() if k in _READ},
        )
    )


def _facts(record: OrderRecord) -> dict[str, Any]:
    header = record.header
    original_lines = [line for line in record.lines if not line.get("change_id")]
    quantities = [LineQuantities.of(line) for line in original_lines]
    allocations = record.others.get("ALLOC", [])
    shipments = sorted(record.others.get("SHP", []), key=lambda s: str(s.get("shipped_at", "")))
    changes = record.others.get("CHG", [])
    returns = record.others.get("RET", [])
    payment_totals = header.get("payment_totals") or {}

    ordered_units = sum(q.ordered for q in quantities)
    first_round = sum(int(a["quantity"]) for a in allocations if int(a.get("round", 0)) == 1)
    allocated_once = bool(allocations)
    # The allocation step ran: it reserved units, or found none and parked the order.
    allocation_ran = allocated_once or header.get("fulfillment_status") == "backordered"
    # Units the first allocation round could not place: they waited for stock or were cancelled unfilled.
    backordered_skus = sorted(
        {
            str(line["sku"])
            for line in original_lines
            if allocated_once
            and sum(
                int(a["quantity"])
                for a in allocations
                if int(a.get("round", 0)) == 1 and a["line_id"] == line["line_id"]
            )
            < int(line["quantity"])
        }
    )
    if not allocated_once and header.get("fulfillment_status") == "backordered":
        backordered_skus = sorted({str(line["sku"]) for line in original_lines})
    demand: dict[str, int] = {}
    for line in original_lines:
        demand[str(line["sku"])] = demand.get(str(line["sku"]), 0) + int(line["quantity"])
    # One transaction carries an order's demand counters: past that many SKUs the rest
    # is left out of the facts too, so counters stay the sums of the stored facts.
    demand = dict(sorted(demand.items())[:MAX_DEMAND_SKUS])
    locations = sorted(
        {str(a["location_id"]) for a in allocations} | {str(s["location_id"]) for s in shipments if "location_id" in s}
    )
    cancelled_money = -sum(int(c["totals"]["total"]) for c in changes if c.get("kind") == "cancel")
    units_cancelled = sum(q.cancelled for q in quantities)
    at = placed_at(header)
    facts = {
        "order_id": header["order_id"],
        "customer_id": header.get("customer_id"),
        "channel": header["channel"],
        "currency": header["currency"],
        "placed_at": at,
        "day": at[:10],
        "status": header["status"],
        "orders": 1,
        "units": ordered_units,
        "units_cancelled": units_cancelled,
        "units_shipped": sum(q.shipped for q in quantities),
        "units_returned": sum(q.returned for q in quantities),
        "ordered": int(header["totals"]["total"]),
        "cancelled": cancelled_money,
        "captured": int(payment_totals.get("captured", 0)),
        "refunded": int(payment_totals.get("refunded", 0)),
        "returns": len(returns),
        "shipments": len(shipments),
        "first_shipped_at": shipments[0]["shipped_at"] if shipments else None,
        "delivered_at": header.get("delivered_at"),
        "locations": locations,
        "allocation_ran": int(allocation_ran),
        "first_time_fill": int(
            allocated_once and first_round >= ordered_units and not header.get("rejected_locations")
        ),
        "backordered": int(bool(backordered_skus)),
        "backordered_skus": backordered_skus,
        "demand": demand,
    }
    # Absent rather than null: the table keeps no null attributes here, and facts compare equal to what is stored.
    return {name: value for name, value in facts.items() if value is not None}


def lifetime_delta(new: Mapping[str, Any] | None, old: Mapping[str, Any] | None) -> dict[str, int]:
    """What the customer's counters must add to go from ``old`` facts to ``new`` facts."""
    return {f: int((new or {}).get(f, 0)) - int((old or {}).get(f, 0)) for f in LIFETIME_FIELDS}


def demand_delta(new: Mapping[str, Any] | None, old: Mapping[str, Any] | None) -> dict[str, int]:
    before = dict((old or {}).get("demand") or {})
    after = dict((new or {}).get("demand") or {})
    deltas = {sku: int(after.get(sku, 0)) - int(before.get(sku, 0)) for sku in set(before) | set(after)}
    return {sku: d for sku, d in deltas.items() if d}
