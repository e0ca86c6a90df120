"""Change-order items (``ORDER#<id>`` / ``CHG#<chg_id>``) and the merchant's change policy item.

The policy is stored as one item (``CONFIG`` / ``RETURNS``) like the routing policy;
absent, the defaults of ``ChangePolicy`` apply. Read through a one-minute cache per warm
function.
"""

from __future__ import annotations

from typing import Any

from functions.changes.rules.policy import ChangePolicy
from shared.clock import now_iso
from shared.order import keys
from shared.table import Item, Table
from shared.warm_cache import warm

KINDS = ("cancel", "return", "appeasement", "exchange", "fee")

_POLICY_KEY = ("CONFIG", "RETURNS")


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


@warm("change_policy", ttl_seconds=60)
def _change_policy() -> ChangePolicy:
    item = Table().get(*_POLICY_KEY, consistent=False) or {}
    return ChangePolicy.model_validate({k: v for k, v in item.items() if k in ChangePolicy.model_fields})


def load_change_policy() -> ChangePolicy:
    return _change_policy.get()


def save_change_policy(policy: ChangePolicy, table: Table | None = None) -> ChangePolicy:
    stored = policy.model_copy(update={"updated_at": now_iso()})
    (table or Table()).put(
        {"pk": _POLICY_KEY[0], "sk": _POLICY_KEY[1], "type": "config", **stored.model_dump(mode="json")}
    )
    _change_policy.clear()
    return stored
