"""The payment ledger of an order: its items, their keys, the ledger read and conditional writes.

Items under ``ORDER#<id>``:

PAY#<pay_id>      one authorization and what was captured, refunded and released under it
INV#<inv_id>      one capture: the shipped units it charged, line by line
CM#<cm_id>        one refund: the change that caused it and the provider refunds it took
CMCHG#<chg_id>    marker: at most one credit memo per change
RELEASE#<chg_id>  marker: at most one release of authorized funds per change, with its result

and pointers from a provider's references back to the order (webhooks carry only those):
``PAYREF#<provider>#<reference>`` and ``REFUNDREF#<provider>#<reference>``.

DynamoDB conditions cannot do arithmetic, so every write pins what it read: payments and
credit memos carry a ``version``, the header a ``payment_version`` that every ledger
transaction moves on. A writer that lost a race re-reads and computes again.

The arithmetic is plain functions over item dicts (functions/payments/rules/ledger.py), so
it is tested without a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.payments.gateways.gateway import Authorization
from functions.payments.rules.ledger import charge_amount, ledger_totals, order_payment_status
from shared.clock import now_iso
from shared.errors import NotFound
from shared.ids import new_id
from shared.order import keys
from shared.order.record import OrderRecord, load_order
from shared.order.timeline import event_item
from shared.table import Item, Table

# ---- keys --------------------------------------------------------------------------------


def payment_sk(payment_id: str) -> str:
    return f"PAY#{payment_id}"


def invoice_sk(invoice_id: str) -> str:
    return f"INV#{invoice_id}"


def credit_memo_sk(credit_memo_id: str) -> str:
    return f"CM#{credit_memo_id}"


def change_marker_sk(change_id: str) -> str:
    return f"CMCHG#{change_id}"


def payment_ref_pk(provider: str, reference: str) -> str:
    return f"PAYREF#{provider}#{reference}"


def refund_ref_pk(provider: str, reference: str) -> str:
    return f"REFUNDREF#{provider}#{reference}"


def release_marker_sk(change_id: str) -> str:
    return f"RELEASE#{change_id}"


# ---- items -------------------------------------------------------------------------------


def payment_item(
    snap: Snapshot,
    provider: str,
    at: str,
    *,
    amount: int,
    authorization: Authorization | None,
    replaces: str | None,
    failure_reason: str | None = None,
) -> Item:
    """A payment: an authorization granted, or (``authorization`` None) a declined one."""
    payment_id = new_id("pay")
    return {
        "pk": keys.order_pk(snap.order_id),
        "sk": payment_sk(payment_id),
        "type": "payment",
        "payment_id": payment_id,
        "order_id": snap.order_id,
        "provider": provider,
        "reference": authorization.reference if authorization else None,
        "currency": snap.header["currency"],
        "requested": amount,
        "authorized": authorization.amount if authorization else 0,
        "captured": 0,
        "refunded": 0,
        "refund_pending": 0,
        "released": 0,
        "status": "authorized" if authorization else "failed",
        "failure_reason": failure_reason,
        "expires_at": authorization.expires_at if authorization else None,
        "multicapture": authorization.multicapture if authorization else False,
        "charge_reference": authorization.charge_reference if authorization else None,
        "replaces": replaces,
        "created_at": at,
        "updated_at": at,
    }


def pointer_item(pk: str, order_id: str, **fields: Any) -> Item:
    sk = pk.split("#", 1)[0]
    return {"pk": pk, "sk": sk, "type": sk.lower(), "order_id": order_id, **fields}


# ---- writes ------------------------------------------------------------------------------


def versioned_put(item: Item, expected_version: int) -> dict[str, Any]:
    """Put ``item`` as version ``expected_version + 1``, only over the version that was read."""
    body: dict[str, Any] = {"Item": {**item, "version": expected_version + 1}}
    if expected_version == 0:
        body["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        body["ConditionExpression"] = "#v = :v"
        body["ExpressionAttributeNames"] = {"#v": "version"}
        body["ExpressionAttributeValues"] = {":v": expected_version}
    return {"Put": body}


def new_put(item: Item) -> dict[str, Any]:
    return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def header_op(
    order_id: str,
    expected_version: int,
    payments: Sequence[Mapping[str, Any]],
    charge: int,
    at: str,
    *,
    payment_status_override: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Totals and payment status of the header, on the ledger version that was read."""
    sets = {
        # Zeros left out (a reader takes an absent total as 0): the header is rewritten by
        # every ledger step, and each byte counts towards its write units.
        "payment_totals": {name: amount for name, amount in ledger_totals(payments).items() if amount},
        "payment_status": payment_status_override or order_payment_status(payments, charge),
        "payment_version": expected_version + 1,
        "updated_at": at,
        **(extra or {}),
    }
    names = {f"#a{i}": name for i, name in enumerate(sets)}
    values: dict[str, Any] = {f":a{i}": value for i, value in enumerate(sets.values())}
    expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(sets)))
    names["#pv"] = "payment_version"
    if expected_version == 0:
        condition = "attribute_exists(pk) AND attribute_not_exists(#pv)"
    else:
        condition = "#pv = :pv"
        values[":pv"] = expected_version
    return {
        "Update": {
            "Key": {"pk": keys.order_pk(order_id), "sk": keys.ORDER_HEADER},
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def reservation_op(order_id: str, expected_version: int, reserved: Mapping[str, int], at: str) -> dict[str, Any]:
    """Set the header's ``refund_reserved`` on the ledger version that was read (and move it
    on, so a refund set aside from the version before is refused and computes again)."""
    values: dict[str, Any] = {":r": dict(reserved), ":next": expected_version + 1, ":at": at}
    if expected_version == 0:
        condition = "attribute_exists(pk) AND attribute_not_exists(#pv)"
    else:
        condition = "#pv = :pv"
        values[":pv"] = expected_version
    return {
        "Update": {
            "Key": {"pk": keys.order_pk(order_id), "sk": keys.ORDER_HEADER},
            "UpdateExpression": "SET refund_reserved = :r, #pv = :next, updated_at = :at",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#pv": "payment_version"},
            "ExpressionAttributeValues": values,
        }
    }


# ---- reading and writing the ledger ------------------------------------------------------


@dataclass
class Snapshot:
    """The order's ledger as read, with the version every write of it is pinned to."""

    record: OrderRecord

    @property
    def header(self) -> Item:
        return self.record.header

    @property
    def order_id(self) -> str:
        return str(self.header["order_id"])

    @property
    def version(self) -> int:
        return int(self.header.get("payment_version", 0))

    def items(self, prefix: str) -> list[Item]:
        return sorted(self.record.others.get(prefix, []), key=lambda i: (str(i.get("created_at", "")), i["sk"]))

    @property
    def payments(self) -> list[Item]:
        return self.items("PAY")

    @property
    def invoices(self) -> list[Item]:
        return self.items("INV")

    @property
    def credit_memos(self) -> list[Item]:
        return self.items("CM")

    @property
    def shipments(self) -> list[Item]:
        return self.items("SHP")

    @property
    def charge(self) -> int:
        return charge_amount(self.record.lines)

    def payment(self, payment_id: str) -> Item:
        for p in self.payments:
            if p["payment_id"] == payment_id:
                return p
        raise NotFound(f"order {self.order_id} has no payment {payment_id}")


def load_ledger(order_id: str, table: Table | None = None) -> Snapshot:
    record = load_order(order_id, table)
    if record is None:
        raise NotFound(f"no order {order_id}")
    return Snapshot(record)


@dataclass
class Batch:
    """The writes of one ledger transaction: changed payments, other items, the header."""

    snap: Snapshot
    at: str = field(default_factory=now_iso)
    ops: list[dict[str, Any]] = field(default_factory=list)
    changed: dict[str, Item] = field(default_factory=dict)

    def payment(self, item: Item) -> None:
        self.changed[item["payment_id"]] = item

    def put(self, item: Item) -> None:
        self.ops.append(new_put(item))

    def event(self, kind: str, detail: dict[str, Any]) -> None:
        self.ops.append({"Put": {"Item": event_item(self.snap.order_id, kind, detail, at=self.at)}})

    def payments_after(self) -> list[Item]:
        before = {p["payment_id"]: p for p in self.snap.payments}
        return list({**before, **self.changed}.values())

    def commit(self, *, payment_status: str | None = None, extra: Mapping[str, Any] | None = None) -> None:
        read = {p["payment_id"]: int(p.get("version", 0)) for p in self.snap.payments}
        ops = [versioned_put(p, read.get(pid, 0)) for pid, p in self.changed.items()]
        ops += self.ops
        ops.append(
            header_op(
                self.snap.order_id,
                self.snap.version,
                self.payments_after(),
                self.snap.charge,
                self.at,
                payment_status_override=payment_status,
                extra=extra,
            )
        )
        Table().transact(ops)
