"""Change-order items (``ORDER#<id>`` / ``CHG#<chg_id>``) and the merchant's change policy item.

The policy is stored as one item (``CONFIG`` / ``RETURNS``) like the routing policy;
absent, the defaults of ``ChangePolicy`` apply. Read through a one-minute cache per warm
function.
"""

from __future__ import annotations

from typing import Any

from functions.changes.rules.policy import ChangePolicy
from shared.operator_config import OperatorConfig
from shared.order import keys
from shared.table import Item, Table

KINDS = ("cancel", "return", "appeasement", "exchange", "fee", "edit")


def change_sk(change_id: str) -> str:
    return f"CHG#{change_id}"


def change_item(
    order_id: str,
    change_id: str,
    *,
    kind: str,
    reason: str,
    lines: list[dict[str, Any]],
    totals: dict[str, int],
    refund: int,
    release: int,
    at: str,
    return_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Item:
    if kind not in KINDS:
        raise ValueError(f"unknown change kind {kind!r}")
    return {
        "pk": keys.order_pk(order_id),
        "sk": change_sk(change_id),
        "type": "change_order",
        "order_id": order_id,
        "change_id": change_id,
        "kind": kind,
        "reason": reason,
        "lines": lines,
        "totals": totals,
        "refund": {"amount": refund},
        "release": {"amount": release},
        "return_id": return_id,
        "created_at": at,
        **(extra or {}),
    }


_policy = OperatorConfig("change_policy", "RETURNS", ChangePolicy)


def load_change_policy() -> ChangePolicy:
    return _policy.load()


def save_change_policy(policy: ChangePolicy, table: Table | None = None) -> ChangePolicy:
    return _policy.save(policy, table)
