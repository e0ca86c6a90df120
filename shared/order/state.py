"""An order's state: its statuses, the moves allowed between them, and the one builder of header writes.

Three statuses live on the header:
- ``status``, the order's business state (open, on hold, completed, cancelled, failed);
- ``fulfillment_status``, how far its units got (derived from the lines' buckets and the shipments);
- ``workflow.status``, the state of its OrderLifecycle execution as last recorded.

No module outside this package writes one of them: callers say *why* the order moves (a
``Reason``, or the facts the derivation needs) and ``HeaderUpdate`` turns that into an
``Update`` whose condition keeps the move legal at commit, so two writers that read the same
header can never both move it where the transitions do not allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.clock import now_iso
from shared.order import keys
from shared.table import ConditionFailed, Table


class OrderStatus(StrEnum):
    OPEN = "open"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class FulfillmentStatus(StrEnum):
    UNALLOCATED = "unallocated"
    ALLOCATED = "allocated"
    BACKORDERED = "backordered"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


class WorkflowStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


# Where each status may go. A hold is an overlay any order can get (a dispute comes after
# completion too) and its release goes back to the status held. Cancelled is final but for
# a hold; a failed order comes back to open only through an operator's retry.
_ALL = frozenset(OrderStatus)
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.OPEN: frozenset(
        {OrderStatus.ON_HOLD, OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.FAILED}
    ),
    OrderStatus.ON_HOLD: _ALL,
    OrderStatus.FAILED: frozenset({OrderStatus.OPEN, OrderStatus.ON_HOLD}),
    OrderStatus.COMPLETED: frozenset({OrderStatus.OPEN, OrderStatus.ON_HOLD}),  # an exchange reopens it
    OrderStatus.CANCELLED: frozenset({OrderStatus.ON_HOLD}),
}

# Orders no step may move on any more (allocation, release, change).
CLOSED = frozenset({OrderStatus.CANCELLED, OrderStatus.FAILED, OrderStatus.COMPLETED})
DONE = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED})
ACTIVE = frozenset({OrderStatus.OPEN, OrderStatus.ON_HOLD})


class Reason(StrEnum):
    """Why an order's status changes; the kernel knows which status each reason leads to."""

    RETRIED = "retried"  # an operator retried a failed step
    EXCHANGE_SHIPPING = "exchange_shipping"  # a received exchange starts a new lifecycle
    ALL_UNITS_CANCELLED = "all_units_cancelled"
    PAYMENT_DECLINED = "payment_declined"
    STEP_FAILED = "step_failed"  # before release to fulfillment: stock is given back
    FULFILLMENT_STEP_FAILED = "fulfillment_step_failed"  # after release: keep everything, hold
    DISPUTE_OPENED = "dispute_opened"
    HOLD_PLACED = "hold_placed"  # an operator's, agent's or the fraud screening's hold


_STATUS_FOR: Mapping[Reason, OrderStatus] = {
    Reason.RETRIED: OrderStatus.OPEN,
    Reason.EXCHANGE_SHIPPING: OrderStatus.OPEN,
    Reason.ALL_UNITS_CANCELLED: OrderStatus.CANCELLED,
    Reason.PAYMENT_DECLINED: OrderStatus.FAILED,
    Reason.STEP_FAILED: OrderStatus.FAILED,
    Reason.FULFILLMENT_STEP_FAILED: OrderStatus.ON_HOLD,
    Reason.DISPUTE_OPENED: OrderStatus.ON_HOLD,
    Reason.HOLD_PLACED: OrderStatus.ON_HOLD,
}

# The header's map of active holds (hold id -> reason, expiry) and the status the first
# of them held the order from. An order with an active hold is never released to a
# warehouse: the release's transaction carries ``not_held_check``.
HOLDS = "holds"
HELD_FROM = "held_from"


class OrderHeld(Exception):
    """The order has an active hold: the workflow waits on it (matched by name in the ASL)."""


def is_held(header: Mapping[str, Any]) -> bool:
    return bool(header.get(HOLDS))


def not_held_check(order_id: str) -> dict[str, Any]:
    """A transaction item that fails if the order gained a hold since it was read."""
    return {
        "ConditionCheck": {
            "Key": {"pk": keys.order_pk(order_id), "sk": keys.ORDER_HEADER},
            "ConditionExpression": "attribute_not_exists(#holds)",
            "ExpressionAttributeNames": {"#holds": HOLDS},
        }
    }


def status_for(reason: Reason) -> OrderStatus:
    return _STATUS_FOR[reason]


def sources_of(target: OrderStatus) -> frozenset[OrderStatus]:
    """The statuses an order may be in to move to ``target``."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


def is_closed(header: Mapping[str, Any]) -> bool:
    return str(header.get("status")) in CLOSED


def is_done(header: Mapping[str, Any]) -> bool:
    return str(header.get("status")) in DONE


# --- fulfillment status: derived, never chosen ----------------------------------------


def after_allocation(backordered_units: int) -> FulfillmentStatus:
    return FulfillmentStatus.BACKORDERED if backordered_units else FulfillmentStatus.ALLOCATED


def after_backorders_cancelled(allocated_units: int) -> FulfillmentStatus:
    return FulfillmentStatus.ALLOCATED if allocated_units else FulfillmentStatus.UNALLOCATED


def after_shipment(shipped_units: int, live_units: int) -> FulfillmentStatus:
    return FulfillmentStatus.SHIPPED if shipped_units >= live_units else FulfillmentStatus.PARTIALLY_SHIPPED


def at_completion(shipped_units: int, current: str) -> tuple[OrderStatus, str]:
    """Completed if anything shipped (a delivery the carrier reported stays), else cancelled."""
    if not shipped_units:
        return OrderStatus.CANCELLED, current
    delivered = current == FulfillmentStatus.DELIVERED
    return OrderStatus.COMPLETED, FulfillmentStatus.DELIVERED if delivered else FulfillmentStatus.SHIPPED


def initial_header_state(execution_arn: str | None = None) -> dict[str, Any]:
    """The statuses of a newly captured order."""
    workflow: dict[str, Any] = {"status": WorkflowStatus.RUNNING.value}
    if execution_arn:
        workflow["execution_arn"] = execution_arn
    return {
        "status": OrderStatus.OPEN.value,
        "fulfillment_status": FulfillmentStatus.UNALLOCATED.value,
        "workflow": workflow,
    }


# --- the header write ------------------------------------------------------------------


@dataclass
class HeaderUpdate:
    """One conditional ``Update`` of an order header, built clause by clause.

    ``status`` adds the condition that the header is in a status from which the move is
    allowed (or exactly the one read, with ``expect``), so a concurrent writer that moved
    it first makes this write fail instead of being overwritten.
    """

    order_id: str
    at: str
    _sets: dict[str, Any] = field(default_factory=dict)
    _removes: list[str] = field(default_factory=list)
    _conditions: list[str] = field(default_factory=lambda: ["attribute_exists(pk)"])
    _names: dict[str, str] = field(default_factory=dict)
    _values: dict[str, Any] = field(default_factory=dict)

    def status(self, target: OrderStatus, *, expect: str | None = None) -> HeaderUpdate:
        self._names["#st"] = "status"
        self._sets["#st"] = target.value
        if expect is not None:
            if OrderStatus(expect) not in sources_of(target) and expect != target.value:
                raise ValueError(f"an order {expect} cannot become {target.value}")
            self._values[":st_read"] = expect
            self._conditions.append("#st = :st_read")
        else:
            sources = sorted(s.value for s in sources_of(target) | {target})
            placeholders = []
            for i, source in enumerate(sources):
                self._values[f":st_from{i}"] = source
                placeholders.append(f":st_from{i}")
            self._conditions.append(f"#st IN ({', '.join(placeholders)})")
        return self

    def still(self, status: str) -> HeaderUpdate:
        """Only if the order is still in the status read (the write moves it nowhere)."""
        self._names["#st"] = "status"
        self._values[":st_read"] = status
        self._conditions.append("#st = :st_read")
        return self

    def because(self, reason: Reason, *, expect: str | None = None) -> HeaderUpdate:
        return self.status(status_for(reason), expect=expect)

    def fulfillment(self, value: FulfillmentStatus | str, *, expect: str | None = None) -> HeaderUpdate:
        self._sets["fulfillment_status"] = FulfillmentStatus(value).value
        if expect is not None:
            self._values[":fs_read"] = expect
            self._conditions.append("fulfillment_status = :fs_read")
        return self

    def unless_fulfillment(self, value: FulfillmentStatus) -> HeaderUpdate:
        self._values[":fs_not"] = value.value
        self._conditions.append("fulfillment_status <> :fs_not")
        return self

    def workflow(self, value: WorkflowStatus | str, *, execution_arn: str | None = None) -> HeaderUpdate:
        self._names["#ws"] = "status"
        self._sets["workflow.#ws"] = WorkflowStatus(value).value
        return self.execution(execution_arn) if execution_arn else self

    def execution(self, execution_arn: str) -> HeaderUpdate:
        self._sets["workflow.execution_arn"] = execution_arn
        return self

    def set(self, attribute: str, value: Any) -> HeaderUpdate:
        """Any other attribute of the header (named, so reserved words are safe)."""
        name = f"#a{len(self._names)}"
        self._names[name] = attribute
        self._sets[name] = value
        return self

    def remove(self, attribute: str) -> HeaderUpdate:
        name = f"#r{len(self._names)}"
        self._names[name] = attribute
        self._removes.append(name)
        return self

    def condition(self, expression: str, values: Mapping[str, Any] | None = None) -> HeaderUpdate:
        self._conditions.append(expression)
        self._values.update(values or {})
        return self

    def op(self) -> dict[str, Any]:
        """The ``Update`` for a transaction."""
        sets = {**self._sets, "updated_at": self.at}
        values = dict(self._values)
        clauses = []
        for i, (path, value) in enumerate(sets.items()):
            values[f":v{i}"] = value
            clauses.append(f"{path} = :v{i}")
        expression = "SET " + ", ".join(clauses)
        if self._removes:
            expression += " REMOVE " + ", ".join(self._removes)
        update: dict[str, Any] = {
            "Key": {"pk": keys.order_pk(self.order_id), "sk": keys.ORDER_HEADER},
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(self._conditions),
            "ExpressionAttributeValues": values,
        }
        if self._names:
            update["ExpressionAttributeNames"] = self._names
        return {"Update": update}

    def apply(self, table: Table | None = None) -> None:
        """The write on its own (one write unit, where a transaction would cost two)."""
        update = self.op()["Update"]
        (table or Table()).update(
            update["Key"]["pk"],
            update["Key"]["sk"],
            update["UpdateExpression"],
            values=update["ExpressionAttributeValues"],
            names=update.get("ExpressionAttributeNames"),
            condition=update["ConditionExpression"],
        )

    def fields(self) -> dict[str, Any]:
        """What the header will hold after the write (for keeping a read copy current)."""
        out: dict[str, Any] = {}
        for path, value in {**self._sets, "updated_at": self.at}.items():
            if path == "#st":
                out["status"] = value
            elif path.startswith("#"):
                out[self._names[path]] = value
            elif not path.startswith("workflow."):
                out[path] = value
        return out


def statuses(values: Iterable[StrEnum]) -> tuple[str, ...]:
    return tuple(v.value for v in values)


def record_workflow(
    order_id: str,
    workflow_status: WorkflowStatus | str,
    *,
    reason: Reason | None = None,
    execution_arn: str | None = None,
    table: Table | None = None,
) -> None:
    """Record the execution's state on the header (reads need no Step Functions call), and the
    order's status where the step says why it moves."""
    table = table or Table()
    header = HeaderUpdate(order_id, now_iso()).workflow(workflow_status)
    if execution_arn:
        header.execution(execution_arn)
    if reason is None:
        header.apply(table)
        return
    try:
        header.because(reason).apply(table)
    except ConditionFailed:
        # Another writer closed the order meanwhile (a cancellation, say): it stays as it is.
        record_workflow(order_id, workflow_status, execution_arn=execution_arn, table=table)
