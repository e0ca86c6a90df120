"""Holds, the screening record, the parked wait and the velocity counters.

``ORDER#<id>`` / ``HOLD#<hold_id>`` one hold (active, released or expired; who placed and
ended it); the header keeps the active ones in ``holds`` (the order kernel's ``HOLDS``) so
a release to fulfillment can be refused at commit. ``ORDER#<id>`` / ``HOLDWAIT`` the task
token of the execution waiting on the order's holds. ``ORDER#<id>`` / ``SCREENING`` the
fraud screening's verdict, written once. ``FRAUDVEL#<kind>#<digest>`` / ``<hour>`` orders
seen per e-mail, payment token or address and hour (expire after the window).
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime, timedelta
from typing import Any

from shared.order import keys
from shared.table import ConditionFailed, Item, Table

HOLDWAIT = "HOLDWAIT"
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


# --- the parked wait --------------------------------------------------------------------


def park_wait(order_id: str, task_token: str, at: str, table: Table | None = None) -> None:
    (table or Table()).put(
        {"pk": keys.order_pk(order_id), "sk": HOLDWAIT, "type": "hold_wait", "task_token": task_token, "at": at}
    )


def waiting(order_id: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(keys.order_pk(order_id), HOLDWAIT)


def take_wait(order_id: str, task_token: str, table: Table | None = None) -> None:
    """Remove the parked token if it is still this one (a newer wait keeps its own)."""
    with contextlib.suppress(ConditionFailed):
        (table or Table()).update(
            keys.order_pk(order_id),
            HOLDWAIT,
            "REMOVE task_token",
            condition="task_token = :t",
            values={":t": task_token},
        )


# --- screening ----------------------------------------------------------------------------


def get_screening(order_id: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(keys.order_pk(order_id), SCREENING)


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
