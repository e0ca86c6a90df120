"""Holds, the screening record, the parked wait and the velocity counters.

``ORDER#<id>`` / ``HOLD#<hold_id>`` one hold (active, released or expired; who placed and
ended it); the header keeps the active ones in ``holds`` (the order kernel's ``HOLDS``) so
a release to fulfillment can be refused at commit (the execution waiting on them is the
kernel's ``shared/order/hold_wait.py``). ``ORDER#<id>`` / ``SCREENING`` the
fraud screening's verdict, written once. ``FRAUDVEL#<kind>#<digest>`` / ``<hour>`` orders
seen per e-mail, payment token or address and hour (expire after the window).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from shared.order import keys
from shared.table import Item, Table

SCREENING = "SCREENING"


def hold_sk(hold_id: str) -> str:
    return f"HOLD#{hold_id}"


def hold_item(order_id: str, hold_id: str, fields: dict[str, Any]) -> Item:
    return {"pk": keys.order_pk(order_id), "sk": hold_sk(hold_id), "type": "hold", "order_id": order_id, **fields}


def get_hold(order_id: str, hold_id: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(keys.order_pk(order_id), hold_sk(hold_id))


def holds_of(order_id: str, table: Table | None = None) -> list[Item]:
    return list(
        (table or Table()).query_all(
            "pk = :pk AND begins_with(sk, :h)", {":pk": keys.order_pk(order_id), ":h": "HOLD#"}, consistent=True
        )
    )


def end_hold_op(order_id: str, hold_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Mark an active hold released or expired (only once: it must still be active)."""
    names = {"#st": "status", **{f"#f{i}": name for i, name in enumerate(fields)}}
    values = {":active": "active", **{f":f{i}": value for i, value in enumerate(fields.values())}}
    sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
    return {
        "Update": {
            "Key": {"pk": keys.order_pk(order_id), "sk": hold_sk(hold_id)},
            "UpdateExpression": f"SET {sets}",
            "ConditionExpression": "#st = :active",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


# --- screening ----------------------------------------------------------------------------


def screening_key(order_id: str) -> tuple[str, str]:
    return keys.order_pk(order_id), SCREENING


def screening_put_op(order_id: str, verdict: dict[str, Any]) -> dict[str, Any]:
    item = {"pk": keys.order_pk(order_id), "sk": SCREENING, "type": "screening", "order_id": order_id, **verdict}
    return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def velocity_key(kind: str, value: str) -> str:
    # A digest: the counters must not hold e-mails, card tokens or addresses in clear.
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"FRAUDVEL#{kind}#{digest}"


def _hour(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")


def velocity_count(pk: str, now: datetime, window_hours: int, table: Table | None = None) -> int:
    """Orders counted under ``pk`` in the last ``window_hours`` hours (whole hours)."""
    first = _hour(now - timedelta(hours=window_hours - 1))
    items, _ = (table or Table()).query(
        "pk = :pk AND sk >= :first", {":pk": pk, ":first": first}, consistent=True, limit=window_hours + 1
    )
    return sum(int(i.get("count", 0)) for i in items)


def velocity_add_op(pk: str, now: datetime, window_hours: int) -> dict[str, Any]:
    expires = int((now + timedelta(hours=window_hours + 1)).timestamp())
    return {
        "Update": {
            "Key": {"pk": pk, "sk": _hour(now)},
            "UpdateExpression": "SET #type = :type, #ttl = :ttl ADD #count :one",
            "ExpressionAttributeNames": {"#type": "type", "#ttl": "ttl", "#count": "count"},
            "ExpressionAttributeValues": {":type": "fraud_velocity", ":ttl": expires, ":one": 1},
        }
    }
