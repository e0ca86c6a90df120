"""The lifecycle's first step: record that the order's execution has picked it up."""

from __future__ import annotations

from typing import Any

from shared.orders import mark_accepted


def accept_order(order_id: str, *, execution_name: str, workflow_status: str = "RUNNING") -> dict[str, Any]:
    """Idempotent: a retried step finds the order already accepted and changes nothing."""
    first = mark_accepted(order_id, execution_name, workflow_status)
    return {"order_id": order_id, "accepted": first}
