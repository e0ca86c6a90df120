"""Customers: matched by email or created, one email marker item per customer.

``CUSTOMER#<id>`` / ``PROFILE`` is the profile (its key is the order kernel's, which the
order header's customer index uses); ``CUSTOMEREMAIL#<email>`` / ``CUSTOMEREMAIL`` maps
an email to its customer.
"""

from __future__ import annotations

from typing import Any

from shared.clock import now_iso
from shared.errors import InvalidInput
from shared.ids import new_id
from shared.order import keys
from shared.table import ConditionFailed, Item, Table


def customer_email_pk(email: str) -> str:
    return f"CUSTOMEREMAIL#{email.strip().lower()}"


def get_customer(customer_id: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(keys.customer_pk(customer_id), "PROFILE")


def resolve_customer(
    *, customer_id: str | None, email: str, name: str, phone: str | None, channel: str, table: Table | None = None
) -> str:
    """The id of the customer named by id, else of the one with this email, else of a new one.

    The email marker is written in the same transaction as the profile with a condition,
    so two orders racing for a new email end with one customer. A returning customer
    costs one read: the marker holds the id.
    """
    table = table or Table()
    if customer_id:
        found = get_customer(customer_id, table)
        if not found:
            raise InvalidInput(
                "unknown customer id",
                errors=[{"field": "customer.id", "message": f"no customer {customer_id}"}],
            )
        return customer_id
    marker = table.get(customer_email_pk(email), "CUSTOMEREMAIL")
    if marker:
        return str(marker["customer_id"])
    created_at = now_iso()
    new_customer_id = new_id("cus")
    profile: dict[str, Any] = {
        "pk": keys.customer_pk(new_customer_id),
        "sk": "PROFILE",
        "type": "customer",
        "customer_id": new_customer_id,
        "email": email.strip(),
        "name": name,
        "phone": phone,
        "source_channel": channel,
        "created_at": created_at,
        "updated_at": created_at,
    }
    try:
        table.transact(
            [
                {
                    "Put": {
                        "Item": {
                            "pk": customer_email_pk(email),
                            "sk": "CUSTOMEREMAIL",
                            "type": "customer_email",
                            "customer_id": new_customer_id,
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"Item": profile, "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )
    except ConditionFailed:
        marker = table.get(customer_email_pk(email), "CUSTOMEREMAIL")
        if not marker:
            raise
        return str(marker["customer_id"])
    return new_customer_id
