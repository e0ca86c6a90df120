"""Shipping an exchange's new lines: the order is open again and an OrderLifecycle
execution (named after the exchange) reserves, routes, authorizes, ships and captures them.
"""

from __future__ import annotations

from functions.allocate.api import load_policy
from functions.returns.store import return_key
from shared.clock import now_iso
from shared.order.state import HeaderUpdate, Reason, WorkflowStatus
from shared.table import ConditionFailed, Table
from shared.workflow import start_order_lifecycle


def ship_exchange(order_id: str, return_id: str) -> bool:
    """Start the exchange's execution once; False when it was started before."""
    table = Table()
    ret = table.get(return_key(order_id, return_id)["pk"], return_key(order_id, return_id)["sk"])
    if not ret or not ret.get("exchange_change_id"):
        return False
    name = f"{order_id}-{ret['exchange_change_id'][-8:]}"
    timeout = load_policy().fulfillment_timeout_seconds
    at = now_iso()
    try:
        table.transact(
            [
                {
                    "Update": {
                        "Key": return_key(order_id, return_id),
                        "UpdateExpression": "SET exchange_shipped = :t, updated_at = :at",
                        "ConditionExpression": "exchange_shipped = :f",
                        "ExpressionAttributeValues": {":t": True, ":f": False, ":at": at},
                    }
                },
                HeaderUpdate(order_id, at).because(Reason.EXCHANGE_SHIPPING).workflow(WorkflowStatus.RUNNING).op(),
            ]
        )
    except ConditionFailed:
        start_order_lifecycle(order_id, name=name, fulfillment_timeout_seconds=timeout)  # a retry: make sure it runs
        return False
    arn = start_order_lifecycle(order_id, name=name, fulfillment_timeout_seconds=timeout)
    HeaderUpdate(order_id, now_iso()).execution(arn).apply(table)
    return True
