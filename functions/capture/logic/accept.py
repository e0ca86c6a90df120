"""The lifecycle's first step: confirm the order exists and record that processing began."""

from __future__ import annotations

from typing import Any

from shared.errors import NotFound
from shared.orders import get_header, mark_accepted


def accept_order(order_id: str, *, execution_name: str, workflow_status: str = "RUNNING") -> dict[str, Any]:
    """Idempotent: a retried step finds the order already accepted and changes nothing."""
    header = get_header(order_id)
    if header is None:
        raise NotFound(f"no order {order_id}")
    if not header.get("accepted_at"):
        mark_accepted(order_id, execution_name, workflow_status)
    return {"order_id": order_id, "status": header["status"], "line_count": header["line_count"]}
