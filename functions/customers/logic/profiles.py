"""Customer profiles: create or replace one, find them by e-mail, phone or name prefix, erase one."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from functions.customers import store
from functions.customers.logic.customer_view import VIEW_ROLES, profile_view
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Conflict, InvalidInput, NotFound
from shared.table import TRANSACTION_LIMIT, ConditionFailed, Table

Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()./-]{4,32}$")] | None = None
    marketing_consent: bool = False


class CustomerPage(BaseModel):
    items: list[dict[str, Any]]


def put_profile(caller: Caller, customer_id: str, body: ProfileIn) -> tuple[dict[str, Any], bool]:
    """The profile after the write, and whether it was created."""
    caller.require(*VIEW_ROLES)
    current = store.get_customer(customer_id)
    try:
        if current is None:
            created = store.create_customer(
                customer_id,
                email=body.email,
                name=body.name,
                phone=body.phone,
                source_channel=None,
                marketing_consent=body.marketing_consent,
            )
            return profile_view(created), True
        if current.get("erased_at"):
            raise Conflict(f"customer {customer_id} was erased")
        updated = store.update_profile(
            current, email=body.email, name=body.name, phone=body.phone, marketing_consent=body.marketing_consent
        )
    except ConditionFailed as err:
        raise Conflict(
            "the e-mail belongs to another customer, or the profile changed meanwhile",
            errors=[{"field": "email", "message": "already used by another customer"}],
        ) from err
    return profile_view(updated), False


def find_customers(caller: Caller, *, email: str | None, phone: str | None, name: str | None) -> CustomerPage:
    caller.require(*VIEW_ROLES)
    if sum(x is not None for x in (email, phone, name)) != 1:
        raise InvalidInput(
            "give exactly one of email, phone, name", errors=[{"field": "query", "message": "one of email|phone|name"}]
        )
    if email is not None:
        found = store.customer_by_email(email)
        profiles = [p for p in [store.get_customer(found)] if p] if found else []
    elif phone is not None:
        profiles = store.customers_by_phone(phone)
    else:
        profiles = store.customers_by_name(name or "")
    return CustomerPage(items=[profile_view(p) for p in profiles])


def erase_customer(caller: Caller, customer_id: str) -> dict[str, Any]:
    """Anonymise the customer's personal data wherever it is stored; orders' money and lines stay.

    Safe to repeat: each write sets the same anonymous values. Profile, e-mail marker,
    each order's header (customer and address) and each kept outbox message are written.
    """
    caller.require("ops", "agent")
    profile = store.get_customer(customer_id)
    if profile is None:
        raise NotFound(f"no customer {customer_id}")
    erased_at = str(profile.get("erased_at") or now_iso())
    table = Table()
    orders = 0
    ops: list[dict[str, Any]] = []
    for header in store.customer_orders(customer_id):
        orders += 1
        ops.append(store.erase_order_op(header["order_id"], erased_at))
        ops.extend(store.erase_outbox_op(m) for m in store.outbox_items(header["order_id"], table))
        if len(ops) >= TRANSACTION_LIMIT - 10:
            _flush(table, ops)
    _flush(table, ops)
    table.transact(store.erase_profile_ops(profile, erased_at))
    return {"customer_id": customer_id, "erased_at": erased_at, "orders": orders}


def _flush(table: Table, ops: list[dict[str, Any]]) -> None:
    while ops:
        table.transact(ops[:TRANSACTION_LIMIT])
        del ops[:TRANSACTION_LIMIT]
