"""Capturing an order: price it, match the customer, write it, start its lifecycle."""

from __future__ import annotations

from typing import Any

from functions.allocate.api import load_policy
from functions.capture.logic.models import OrderRequest
from functions.capture.logic.order_view import OrderView, order_view
from functions.capture.rules.pricing import PricedLine, Totals, price_order
from functions.customers.api import resolve_customer
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Forbidden
from shared.ids import new_id
from shared.order import keys
from shared.order.record import DuplicateOrder, OrderRecord, create_order
from shared.order.state import initial_header_state
from shared.order.timeline import event_item
from shared.table import Item
from shared.workflow import start_order_lifecycle


def authorize_capture(caller: Caller, channel: str) -> None:
    """A channel captures for itself; operators may capture for any channel."""
    if caller.role == "ops":
        return
    if caller.role != "channel":
        raise Forbidden(f"role {caller.role!r} may not capture orders")
    if caller.channel != channel:
        raise Forbidden(
            f"this key is bound to channel {caller.channel!r}",
            errors=[{"field": "channel", "message": f"must be {caller.channel!r} for this key"}],
        )


def _line_item(order_id: str, position: int, request_line: Any, priced: PricedLine) -> Item:
    return {
        "pk": keys.order_pk(order_id),
        "sk": keys.line_sk(position),
        "type": "line",
        "order_id": order_id,
        "line_id": new_id("ln"),
        "position": position,
        "sku": request_line.sku,
        "quantity": request_line.quantity,
        "unit_price": request_line.unit_price,
        "subtotal": priced.subtotal,
        "line_discount": priced.line_discount,
        "promotions": priced.promotions,
        "discount": priced.discount,
        "tax": priced.tax,
        "shipping": priced.shipping,
        "total": priced.total,
        "quantities": {"ordered": request_line.quantity},
    }


def _header(order_id: str, request: OrderRequest, customer_id: str, totals: Totals, created_at: str) -> Item:
    sort_key = keys.created_sort_key(created_at, order_id)
    return {
        "pk": keys.order_pk(order_id),
        "sk": keys.ORDER_HEADER,
        "type": "order",
        "order_id": order_id,
        "channel": request.channel,
        "external_id": request.external_id,
        "customer_id": customer_id,
        "customer": {
            "email": request.customer.email,
            "name": request.customer.name,
            **({"phone": request.customer.phone} if request.customer.phone else {}),
        },
        **(
            {"channel_customer_id": request.customer.channel_customer_id}
            if request.customer.channel_customer_id
            else {}
        ),
        "currency": request.currency,
        "payment_status": "pending",
        "totals": totals.as_dict(),
        "shipping": request.shipping.model_dump(exclude_none=True),
        "promotions": [p.model_dump() for p in request.promotions],
        "payment": request.payment.model_dump(),
        **(
            {"billing_address": request.billing_address.model_dump(exclude_none=True)}
            if request.billing_address
            else {}
        ),
        "line_count": len(request.lines),
        # The channel's own time for imported history; absent, the capture's (``created_at``).
        **({"placed_at": request.placed_at.isoformat()} if request.placed_at else {}),
        **initial_header_state(),  # its execution is named by the order id: not stored
        "created_at": created_at,
        "updated_at": created_at,
        "gsi1pk": keys.channel_index_pk(request.channel, order_id),
        "gsi1sk": sort_key,
        "gsi2pk": keys.customer_pk(customer_id),
        "gsi2sk": sort_key,
        "gsi3pk": keys.order_index_pk(order_id),
        "gsi3sk": sort_key,
    }


def capture_order(request: OrderRequest, caller: Caller) -> OrderView:
    """Write the order and start its OrderLifecycle execution.

    A duplicate (same channel and external id) raises ``DuplicateOrder`` naming the
    existing order, after making sure that order's execution was started: a capture that
    wrote the order but died before starting it is completed by its retry.
    """
    authorize_capture(caller, request.channel)
    customer_id = resolve_customer(
        customer_id=request.customer.id,
        email=request.customer.email,
        name=request.customer.name,
        phone=request.customer.phone,
        channel=request.channel,
    )
    priced, totals = price_order(request)
    order_id = new_id("ord")
    created_at = now_iso()
    header = _header(order_id, request, customer_id, totals, created_at)
    lines = [
        _line_item(order_id, i + 1, line, p) for i, (line, p) in enumerate(zip(request.lines, priced, strict=True))
    ]
    captured = event_item(
        order_id,
        "order.captured",
        {"channel": request.channel, "external_id": request.external_id, "total": totals.total, "lines": len(lines)},
        at=created_at,
    )
    timeout = load_policy().fulfillment_timeout_seconds
    try:
        create_order(header, lines, [captured])
    except DuplicateOrder as dup:
        start_order_lifecycle(dup.order_id, fulfillment_timeout_seconds=timeout)
        raise
    start_order_lifecycle(order_id, fulfillment_timeout_seconds=timeout)
    return order_view(OrderRecord(header=header, lines=lines))
