"""Fulfillment orders and shipments: items, views, lookups, and cancelling what a location holds.

``ORDER#<id>`` / ``FO#<fo_id>``   one fulfillment order per location and delivery group, with
                                  its lines (quantity, shipped, rejected, cancelled), the
                                  allocation items it was made from and the task token of the
                                  execution waiting on it. ``version`` goes up with every write,
                                  and every write is conditioned on it (DynamoDB conditions
                                  cannot do arithmetic, so counts are pinned through it).
                                  gsi1 ``FOLOC#<location>`` by ``<status>#<created_at>#<fo_id>``,
                                  gsi2 ``FO#<fo_id>`` (lookup by id),
                                  gsi3 ``FOSTATUS#<status>`` by ``<created_at>#<fo_id>``.
``ORDER#<id>`` / ``SHP#<shp_id>`` one shipment: carrier, tracking number, lines with the first
                                  unit position each ships (shared/order/amounts.py), capture and
                                  tracking status; gsi2 ``TRACKING#<tracking number>``.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from shared.allocations import line_allocated_op
from shared.clock import now_iso
from shared.errors import Conflict, NotFound, Throttled
from shared.inventory import release_op
from shared.observability import logger
from shared.order import keys
from shared.order.timeline import event_item
from shared.table import TRANSACTION_LIMIT, ConditionFailed, Item, Table, decode_cursor, encode_cursor
from shared.workflow import resume_task

OPEN_STATUSES = ("allocated", "accepted", "picked", "packed")
TERMINAL_STATUSES = ("fulfilled", "rejected", "cancelled")
LINE_BUCKETS = ("shipped", "rejected", "cancelled")


def fo_sk(fo_id: str) -> str:
    return f"FO#{fo_id}"


def shipment_sk(shipment_id: str) -> str:
    return f"SHP#{shipment_id}"


def location_index_sk(status: str, created_at: str, fo_id: str) -> str:
    return f"{status}#{created_at}#{fo_id}"


def status_index_pk(status: str) -> str:
    return f"FOSTATUS#{status}"


def is_terminal(fo: Item) -> bool:
    return fo["status"] in TERMINAL_STATUSES


def open_units(line: dict[str, Any]) -> int:
    """Units of a fulfillment order line still to ship: not shipped, rejected or cancelled."""
    return int(line["quantity"]) - sum(int(line.get(b, 0)) for b in LINE_BUCKETS)


def settled_status(current: str, lines: Iterable[dict[str, Any]]) -> str:
    """The status once lines moved: unchanged while any unit is open, else fulfilled when
    something shipped, rejected when something was rejected, cancelled otherwise."""
    lines = list(lines)
    if current in TERMINAL_STATUSES or any(open_units(line) > 0 for line in lines):
        return current
    if any(int(line.get("shipped", 0)) for line in lines):
        return "fulfilled"
    if any(int(line.get("rejected", 0)) for line in lines):
        return "rejected"
    return "cancelled"


def new_fulfillment_order(
    order_id: str,
    fo_id: str,
    location_id: str,
    delivery_group: str,
    lines: list[dict[str, Any]],
    allocations: list[str],
    at: str,
) -> Item:
    return {
        "pk": keys.order_pk(order_id),
        "sk": fo_sk(fo_id),
        "type": "fulfillment_order",
        "fo_id": fo_id,
        "order_id": order_id,
        "location_id": location_id,
        "delivery_group": delivery_group,
        "status": "allocated",
        "lines": lines,
        "allocations": allocations,
        "version": 1,
        "created_at": at,
        "updated_at": at,
        "gsi1pk": f"FOLOC#{location_id}",
        "gsi1sk": location_index_sk("allocated", at, fo_id),
        "gsi2pk": f"FO#{fo_id}",
        "gsi2sk": "FO",
        "gsi3pk": status_index_pk("allocated"),
        "gsi3sk": keys.created_sort_key(at, fo_id),
    }


def fo_write_op(
    fo: Item,
    *,
    at: str,
    status: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    signal: str | None = None,
) -> dict[str, Any]:
    """Update a fulfillment order pinned on the version read: a concurrent write refuses it."""
    status = status or fo["status"]
    sets = ["version = :next", "updated_at = :at"]
    values: dict[str, Any] = {":next": int(fo["version"]) + 1, ":at": at, ":ver": int(fo["version"])}
    names: dict[str, str] = {}
    if status != fo["status"]:
        sets += ["#st = :st", f"{status}_at = :at", "gsi1sk = :g1", "gsi3pk = :g3"]
        names["#st"] = "status"
        values |= {
            ":st": status,
            ":g1": location_index_sk(status, fo["created_at"], fo["fo_id"]),
            ":g3": status_index_pk(status),
        }
    if lines is not None:
        sets.append("#lines = :lines")
        names["#lines"] = "lines"
        values[":lines"] = lines
    if signal:
        # What the waiting execution has not seen yet (shared with AwaitFulfillment).
        sets.append("#signal = :signal")
        names["#signal"] = "signal"
        values[":signal"] = signal
    update: dict[str, Any] = {
        "Key": {"pk": fo["pk"], "sk": fo["sk"]},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": "version = :ver",
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return {"Update": update}


def applied(fo: Item, op: dict[str, Any]) -> Item:
    """The fulfillment order as ``op`` (from ``fo_write_op``) leaves it."""
    values = op["Update"]["ExpressionAttributeValues"]
    out = dict(fo, version=values[":next"], updated_at=values[":at"])
    if ":st" in values:
        out |= {"status": values[":st"], f"{values[':st']}_at": values[":at"], "gsi1sk": values[":g1"]}
        out["gsi3pk"] = values[":g3"]
    if ":lines" in values:
        out["lines"] = values[":lines"]
    if ":signal" in values:
        out["signal"] = values[":signal"]
    return out


# --- allocation items behind a fulfillment order -------------------------------------


def held(allocation: Item) -> int:
    """Units an allocation item still reserves: not shipped, not released."""
    return int(allocation["quantity"]) - int(allocation.get("shipped", 0)) - int(allocation.get("released", 0))


def consume_allocations(
    allocations: list[Item], line_id: str, quantity: int, bucket: str, at: str
) -> tuple[list[dict[str, Any]], list[Item]]:
    """Operations moving ``quantity`` units of a line from held to ``bucket`` (shipped or
    released), oldest allocation first, each pinned on its counts; and the items after."""
    ops: list[dict[str, Any]] = []
    after: list[Item] = []
    left = quantity
    for alloc in sorted(allocations, key=lambda a: a["sk"]):
        if left == 0 or alloc["line_id"] != line_id or alloc.get("status") != "reserved" or held(alloc) == 0:
            after.append(alloc)
            continue
        take = min(left, held(alloc))
        left -= take
        new = dict(alloc)
        new[bucket] = int(alloc.get(bucket, 0)) + take
        if held(new) == 0:
            new["status"] = "shipped" if int(new.get("shipped", 0)) else "released"
        ops.append(
            {
                "Update": {
                    "Key": {"pk": alloc["pk"], "sk": alloc["sk"]},
                    "UpdateExpression": "SET shipped = :s, released = :r, #st = :st, updated_at = :at",
                    "ConditionExpression": "#st = :reserved AND "
                    + pinned("shipped", ":os", int(alloc.get("shipped", 0)))
                    + " AND "
                    + pinned("released", ":or", int(alloc.get("released", 0))),
                    "ExpressionAttributeNames": {"#st": "status"},
                    "ExpressionAttributeValues": {
                        ":s": int(new.get("shipped", 0)),
                        ":r": int(new.get("released", 0)),
                        ":st": new["status"],
                        ":reserved": "reserved",
                        ":at": at,
                        ":os": int(alloc.get("shipped", 0)),
                        ":or": int(alloc.get("released", 0)),
                    },
                }
            }
        )
        after.append(new)
    if left:
        raise ValueError(f"line {line_id}: allocations hold {quantity - left} units, not {quantity}")
    return ops, after


def consume_fo_allocations(
    fo: Item, allocations: list[Item], line_id: str, quantity: int, bucket: str, at: str
) -> tuple[list[dict[str, Any]], list[Item]]:
    """``consume_allocations`` for units a fulfillment order works: 409 if it no longer holds them."""
    try:
        return consume_allocations(allocations, line_id, quantity, bucket, at)
    except ValueError as err:
        raise Conflict(f"fulfillment order {fo['fo_id']} no longer holds these units: {err}") from err


def pinned(attribute: str, placeholder: str, old: int) -> str:
    """A condition that ``attribute`` still holds ``old`` (absent counts as 0)."""
    if old == 0:
        return f"(attribute_not_exists({attribute}) OR {attribute} = {placeholder})"
    return f"{attribute} = {placeholder}"


def allocations_of(fo: Item, table: Table | None = None) -> list[Item]:
    """The allocation items a fulfillment order was made from (consistent)."""
    found = (table or Table()).batch_get(((fo["pk"], sk) for sk in fo.get("allocations", [])), consistent=True)
    return sorted(found, key=lambda a: a["sk"])


# --- reads -----------------------------------------------------------------------------


def load_fulfillment_order(fo_id: str, table: Table | None = None) -> Item:
    """A fulfillment order by id: the index names its order, a consistent read gets it."""
    table = table or Table()
    items, _ = table.query("gsi2pk = :pk AND gsi2sk = :sk", {":pk": f"FO#{fo_id}", ":sk": "FO"}, index="gsi2")
    fo = table.get(items[0]["pk"], fo_sk(fo_id)) if items else None
    if fo is None:
        raise NotFound(f"no fulfillment order {fo_id}")
    return fo


def fulfillment_orders_of(order_id: str, table: Table | None = None) -> list[Item]:
    items = (table or Table()).query_all(
        "pk = :pk AND begins_with(sk, :fo)", {":pk": keys.order_pk(order_id), ":fo": "FO#"}, consistent=True
    )
    return sorted(items, key=lambda i: (i["created_at"], i["fo_id"]))


def open_fulfillment_orders(order_id: str, table: Table | None = None) -> list[Item]:
    return [fo for fo in fulfillment_orders_of(order_id, table) if not is_terminal(fo)]


def shipments_of(order_id: str, *, fo_id: str | None = None, table: Table | None = None) -> list[Item]:
    items = (table or Table()).query_all(
        "pk = :pk AND begins_with(sk, :shp)", {":pk": keys.order_pk(order_id), ":shp": "SHP#"}, consistent=True
    )
    return sorted((i for i in items if fo_id is None or i["fo_id"] == fo_id), key=lambda i: i["created_at"])


def find_shipments_by_tracking(tracking_number: str, table: Table | None = None) -> list[Item]:
    """Every shipment with this tracking number (one, unless a shipment too large for one
    transaction was written as several), each read consistently."""
    table = table or Table()
    index_items = table.query_all("gsi2pk = :pk", {":pk": f"TRACKING#{tracking_number}"}, index="gsi2")
    found = [table.get(i["pk"], i["sk"]) for i in index_items]
    return sorted((i for i in found if i), key=lambda i: i["shipment_id"])


def find_shipment_by_tracking(tracking_number: str, table: Table | None = None) -> Item | None:
    found = find_shipments_by_tracking(tracking_number, table)
    return found[0] if found else None


def list_fulfillment_orders(
    *,
    location_id: str | None,
    status: str | None,
    within: tuple[str, ...] | None,
    limit: int,
    cursor: str | None,
    table: Table | None = None,
) -> tuple[list[Item], str | None]:
    """Oldest first within a status. A location's work is gsi1 (a status is a prefix of its sort key); all
    locations' work in one status is gsi3, kept to the locations ``within`` when given."""
    table = table or Table()
    filter_expression = None
    values: dict[str, Any]
    if location_id:
        index = "gsi1"
        condition = "gsi1pk = :pk" + (" AND begins_with(gsi1sk, :st)" if status else "")
        values = {":pk": f"FOLOC#{location_id}", **({":st": f"{status}#"} if status else {})}
    elif status:
        index, condition, values = "gsi3", "gsi3pk = :pk", {":pk": status_index_pk(status)}
        if within is not None:
            names = [f":loc{i}" for i in range(len(within))]
            filter_expression = f"location_id IN ({', '.join(names)})"
            values |= dict(zip(names, within, strict=True))
    else:
        raise ValueError("a location or a status is needed")
    start = decode_cursor(cursor)
    found: list[Item] = []
    for _ in range(20):  # a filter can leave a page short: read on until it is full
        items, start = table.query(
            condition,
            values,
            index=index,
            filter_expression=filter_expression,
            limit=limit - len(found),
            start_key=start,
        )
        found.extend(items)
        if not start or len(found) >= limit:
            break
    return found, encode_cursor(start)


# --- views (GET /v1/orders/{id} and the fulfillment API) -------------------------------


_STEPS = ("accepted", "picked", "packed", *TERMINAL_STATUSES)


def fulfillment_order_view(item: Item) -> dict[str, Any]:
    lines = sorted(item["lines"], key=lambda line: int(line["position"]))
    return {
        "fo_id": item["fo_id"],
        "order_id": item["order_id"],
        "location_id": item["location_id"],
        "delivery_group": item["delivery_group"],
        "status": item["status"],
        "lines": [
            {
                "line_id": line["line_id"],
                "sku": line["sku"],
                "quantity": int(line["quantity"]),
                "shipped": int(line.get("shipped", 0)),
                "rejected": int(line.get("rejected", 0)),
                "cancelled": int(line.get("cancelled", 0)),
                "open": open_units(line),
            }
            for line in lines
        ],
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
        **{
            f"{s}_at": item[f"{s}_at"]
            for s in ("accepted", "picked", "packed", *TERMINAL_STATUSES)
            if f"{s}_at" in item
        },
    }


_SHIPMENT_OPTIONAL = ("invoice_id", "captured_at", "delivered_at", "tracking_updated_at", "parts")


def shipment_view(item: Item) -> dict[str, Any]:
    return {
        "shipment_id": item["shipment_id"],
        "order_id": item["order_id"],
        "fo_id": item["fo_id"],
        "location_id": item["location_id"],
        "carrier": item["carrier"],
        "tracking_number": item["tracking_number"],
        "lines": [
            {
                "line_id": line["line_id"],
                "sku": line["sku"],
                "quantity": int(line["quantity"]),
                "first_unit": int(line["first_unit"]),
            }
            for line in sorted(item["lines"], key=lambda line: int(line["position"]))
        ],
        "capture_status": item["capture_status"],
        "tracking_status": item["tracking_status"],
        "shipped_at": item["shipped_at"],
        **{name: item[name] for name in _SHIPMENT_OPTIONAL if name in item},
    }


# --- signalling the waiting execution --------------------------------------------------


def resume_waiting(fo: Item, output: dict[str, Any], table: Table | None = None) -> bool:
    """Resume the execution waiting on ``fo`` (from the write that changed it); on success
    clear the signal that write left, unless the order moved on since."""
    token = fo.get("task_token")
    if not token:
        return False
    resumed = False
    for _attempt in range(3):
        try:
            resumed = resume_task(token, output)
            break
        except (Throttled, ClientError) as err:  # the change is written; AwaitFulfillment catches up
            logger.warning("could not resume the fulfillment wait", extra={"fo_id": fo["fo_id"], "error": str(err)})
    if resumed:
        clear_signal(fo, table)
    return resumed


def clear_signal(fo: Item, table: Table | None = None) -> None:
    """The execution heard ``fo``'s signal: remove it, unless the order was written again since."""
    if not fo.get("signal"):
        return
    with contextlib.suppress(ConditionFailed):
        (table or Table()).update(
            fo["pk"],
            fo["sk"],
            "REMOVE #signal",
            names={"#signal": "signal"},
            values={":ver": int(fo["version"])},
            condition="version = :ver",
        )


# --- cancelling units a location holds (change orders) -----------------------------------


@dataclass
class FulfillmentCancellation:
    """What cancelling units held by fulfillment orders takes.

    ``ops`` release the stock and the allocations, move the fulfillment order lines and,
    with ``line_ops``, the order lines' ``allocated`` bucket (the caller moves
    ``quantities.cancelled`` itself; a caller that updates the same line items in its
    transaction passes ``line_ops=False`` and folds ``released`` into its own update).
    ``unplaced`` is what no open fulfillment order held (still unallocated, or allocated but
    not yet released to a location). After the transaction, ``notify`` each changed FO.
    """

    ops: list[dict[str, Any]] = field(default_factory=list)
    changed: list[Item] = field(default_factory=list)
    unplaced: dict[str, int] = field(default_factory=dict)
    # Units released per order line position (what ``allocated`` loses).
    released: dict[int, int] = field(default_factory=dict)

    def notify(self, table: Table | None = None) -> None:
        for fo in self.changed:
            resume_waiting(fo, {"event": "cancelled", "fo_id": fo["fo_id"]}, table)


def plan_fulfillment_cancellation(
    order_id: str,
    cancellations: dict[str, int],
    *,
    line_ops: bool = True,
    table: Table | None = None,
    at: str | None = None,
) -> FulfillmentCancellation:
    """Take the units to cancel from the order's open fulfillment orders, newest first."""
    table = table or Table()
    at = at or now_iso()
    plan = FulfillmentCancellation()
    left = {line_id: q for line_id, q in cancellations.items() if q > 0}
    line_release: dict[int, int] = defaultdict(int)
    # Two fulfillment orders at one location share stock items: one operation per item.
    stock: dict[tuple[str, str], int] = defaultdict(int)
    for fo in reversed(open_fulfillment_orders(order_id, table)):
        if not any(line["line_id"] in left for line in fo["lines"]):
            continue
        allocations = allocations_of(fo, table)
        lines = [dict(line) for line in fo["lines"]]
        alloc_ops: list[dict[str, Any]] = []
        for line in lines:
            take = min(left.get(line["line_id"], 0), open_units(line))
            if take == 0:
                continue
            line["cancelled"] = int(line.get("cancelled", 0)) + take
            left[line["line_id"]] -= take
            stock[(line["sku"], fo["location_id"])] += take
            line_release[int(line["position"])] += take
            ops, allocations = consume_allocations(allocations, line["line_id"], take, "released", at)
            alloc_ops += ops
        status = settled_status(fo["status"], lines)
        op = fo_write_op(fo, at=at, status=status, lines=lines, signal="cancelled")
        plan.ops += [op, *alloc_ops]
        plan.changed.append(applied(fo, op))
    plan.ops += [release_op(sku, location, q) for (sku, location), q in sorted(stock.items())]
    plan.released = dict(sorted(line_release.items()))
    if line_ops:
        plan.ops += [line_allocated_op(order_id, pos, -q) for pos, q in plan.released.items()]
    plan.unplaced = {line_id: q for line_id, q in left.items() if q > 0}
    return plan


def cancel_fulfillment_lines(order_id: str, cancellations: dict[str, int], reason: str) -> FulfillmentCancellation:
    """Cancel units held by fulfillment orders on their own (one transaction with a timeline
    event), then resume the executions waiting on them. Callers that write more in the same
    transaction use ``plan_fulfillment_cancellation`` instead."""
    table = Table()
    plan = plan_fulfillment_cancellation(order_id, cancellations, table=table)
    if not plan.changed:
        return plan
    detail = {
        "reason": reason,
        "fulfillment_orders": [fo["fo_id"] for fo in plan.changed],
        "lines": [{"line_id": k, "quantity": q - plan.unplaced.get(k, 0)} for k, q in sorted(cancellations.items())],
    }
    ops = [*plan.ops, {"Put": {"Item": event_item(order_id, "fulfillment.cancelled", detail)}}]
    if len(ops) > TRANSACTION_LIMIT:
        raise ValueError("too many lines to cancel in one transaction; cancel them in parts")
    table.transact(ops)
    plan.notify(table)
    return plan
