"""The order as the API shows it (docs/api.md, ``GET /v1/orders/{id}``), built from its items."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.changes.api import change_views, order_figures
from functions.fulfill.api import fulfillment_order_view, shipment_view
from functions.holds.api import hold_view
from functions.payments.api import payment_summary
from functions.returns.api import return_views
from shared.order.quantities import LineQuantities, line_status
from shared.order.record import OrderRecord
from shared.table import Item
from shared.workflow import order_execution_arn


class Quantities(BaseModel):
    ordered: int
    allocated: int = 0
    shipped: int = 0
    cancelled: int = 0
    return_initiated: int = 0
    returned: int = 0


class LineView(BaseModel):
    line_id: str
    sku: str
    quantity: int
    unit_price: int
    subtotal: int
    discount: int
    promotions: dict[str, int] = {}
    tax: int
    shipping: int
    total: int
    status: str
    quantities: Quantities


class Totals(BaseModel):
    subtotal: int
    discount: int
    tax: int
    shipping: int
    total: int


class PaymentSummary(BaseModel):
    """Salesforce's order payment summary, in minor units (docs/payments.md defines each)."""

    authorized: int
    captured: int
    refunded: int
    refund_pending: int
    available_to_capture: int
    available_to_refund: int
    refund_reserved: int = 0
    amount_due: int
    balance: int


class Workflow(BaseModel):
    execution_arn: str | None = None
    status: str


class OrderView(BaseModel):
    order_id: str
    channel: str
    external_id: str
    customer_id: str
    currency: str
    status: str
    fulfillment_status: str
    payment_status: str
    totals: Totals
    # The original totals plus every change order's (cancellations, returns, appeasements...).
    current_totals: dict[str, int]
    shipping: dict[str, Any]
    promotions: list[dict[str, Any]]
    lines: list[LineView]
    fulfillment_orders: list[dict[str, Any]] = []
    shipments: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    invoices: list[dict[str, Any]] = []
    credit_memos: list[dict[str, Any]] = []
    returns: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    # Holds placed on the order, active and ended (docs/holds.md).
    holds: list[dict[str, Any]] = []
    payment_summary: PaymentSummary
    workflow: Workflow
    created_at: str
    updated_at: str


class OrderSummary(BaseModel):
    """A row of the order list: the header without lines."""

    order_id: str
    channel: str
    external_id: str
    customer_id: str
    currency: str
    status: str
    fulfillment_status: str
    payment_status: str
    totals: Totals
    line_count: int
    created_at: str


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None


class TimelineEvent(BaseModel):
    event_id: str
    kind: str
    at: str
    detail: dict[str, Any]
    # The caller's principal, or ``system`` (events written before actors were recorded too).
    actor: str = "system"


class TimelinePage(BaseModel):
    items: list[TimelineEvent]
    next_cursor: str | None


def _line(item: Item) -> LineView:
    quantities = LineQuantities.of(item)
    return LineView(
        line_id=item["line_id"],
        sku=item["sku"],
        quantity=item["quantity"],
        unit_price=item["unit_price"],
        subtotal=item["subtotal"],
        discount=item["discount"],
        promotions=item.get("promotions", {}),
        tax=item["tax"],
        shipping=item["shipping"],
        total=item["total"],
        status=line_status(quantities),
        quantities=Quantities(**quantities.as_dict()),
    )


_HEADER_FIELDS = (
    "order_id",
    "channel",
    "external_id",
    "customer_id",
    "currency",
    "status",
    "fulfillment_status",
    "payment_status",
    "created_at",
)


def _header_fields(header: Item) -> dict[str, Any]:
    """What the list row and the full view both show of the header."""
    return {name: header[name] for name in _HEADER_FIELDS} | {"totals": Totals(**header["totals"])}


def summary(header: Item) -> OrderSummary:
    return OrderSummary(**_header_fields(header), line_count=header["line_count"])


def order_view(record: OrderRecord) -> OrderView:
    h = record.header
    lines = sorted(record.lines, key=lambda item: item["sk"])
    workflow = h.get("workflow") or {}
    payments = payment_summary(record)
    others = record.others
    return OrderView(
        **_header_fields(h),
        current_totals=order_figures(record),
        shipping=h["shipping"],
        promotions=h.get("promotions", []),
        lines=[_line(item) for item in lines],
        fulfillment_orders=[
            fulfillment_order_view(i) for i in sorted(others.get("FO", []), key=lambda i: (i["created_at"], i["fo_id"]))
        ],
        shipments=[
            shipment_view(i) for i in sorted(others.get("SHP", []), key=lambda i: (i["created_at"], i["shipment_id"]))
        ],
        payments=payments.pop("payments"),
        invoices=payments.pop("invoices"),
        credit_memos=payments.pop("credit_memos"),
        returns=return_views(record),
        changes=change_views(record),
        holds=[hold_view(i) for i in sorted(others.get("HOLD", []), key=lambda i: (i["placed_at"], i["hold_id"]))],
        payment_summary=PaymentSummary(**payments),
        workflow=Workflow(
            execution_arn=order_execution_arn(h["order_id"], workflow), status=workflow.get("status", "PENDING")
        ),
        updated_at=h["updated_at"],
    )
