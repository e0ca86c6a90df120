"""Customers and the read models kept from the table's stream.

``CUSTOMER#<id>`` / ``PROFILE`` is the profile (its key is the order kernel's, which the
order header's customer index uses; gsi1 by name prefix, gsi3 by phone);
``CUSTOMEREMAIL#<email>`` / ``CUSTOMEREMAIL`` maps an email to its customer.

Read models (docs/data-model.md, Read models): ``FACTS#<day>#<nn>`` / ``ORDER#<id>`` one
order's facts, ``CUSTOMER#<id>`` / ``LIFETIME#<currency>`` the sums of a customer's
facts, ``DEMAND#<sku>#<nn>`` / ``<day>`` units ordered per SKU and day (one counter per
shard), ``DEMANDSKU#<sku>`` / ``<day>`` the marker of a SKU with demand that day (gsi1 by
month), ``SEARCHEXT#<external id>`` / ``ORDER#<id>`` the search entry of an order's
external id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from shared.clock import now_iso
from shared.errors import InvalidInput
from shared.ids import new_id
from shared.order import keys
from shared.shards import every_shard, shard_of, sharded_key
from shared.table import ConditionFailed, Item, Table

PROFILE = "PROFILE"
NAME_PREFIX_LENGTH = 2


def customer_email_pk(email: str) -> str:
    return f"CUSTOMEREMAIL#{email.strip().lower()}"


def phone_digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def name_key(name: str) -> str:
    return " ".join(name.lower().split())


def name_partition(name: str) -> str:
    """Names are indexed under their first letters so a prefix query reads one partition."""
    return f"CUSTNAME#{name_key(name)[:NAME_PREFIX_LENGTH]}"


def profile_index(customer_id: str, name: str | None, phone: str | None) -> dict[str, Any]:
    """The index attributes of a profile: gsi1 by name, gsi3 by phone digits."""
    index: dict[str, Any] = {}
    if name:
        index |= {"gsi1pk": name_partition(name), "gsi1sk": f"{name_key(name)}#{customer_id}"}
    if phone and phone_digits(phone):
        index |= {"gsi3pk": f"CUSTPHONE#{phone_digits(phone)}", "gsi3sk": customer_id}
    return index


def get_customer(customer_id: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(keys.customer_pk(customer_id), PROFILE)


def customer_by_email(email: str, table: Table | None = None) -> str | None:
    marker = (table or Table()).get(customer_email_pk(email), "CUSTOMEREMAIL")
    return str(marker["customer_id"]) if marker else None


def customers_by_phone(phone: str, *, limit: int = 20, table: Table | None = None) -> list[Item]:
    digits = phone_digits(phone)
    if not digits:
        return []
    items, _ = (table or Table()).query("gsi3pk = :pk", {":pk": f"CUSTPHONE#{digits}"}, index="gsi3", limit=limit)
    return items


def customers_by_name(prefix: str, *, limit: int = 20, table: Table | None = None) -> list[Item]:
    """Customers whose name starts with ``prefix`` (at least two letters)."""
    key = name_key(prefix)
    if len(key) < NAME_PREFIX_LENGTH:
        return []
    items, _ = (table or Table()).query(
        "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
        {":pk": name_partition(key), ":prefix": key},
        index="gsi1",
        limit=limit,
    )
    return items


def customer_orders(customer_id: str, *, newest_first: bool = True, limit: int | None = None) -> list[Item]:
    """Order headers of a customer (gsi2 by creation)."""
    table = Table()
    if limit:
        items, _ = table.query(
            "gsi2pk = :pk", {":pk": keys.customer_pk(customer_id)}, index="gsi2", forward=not newest_first, limit=limit
        )
        return items
    return list(
        table.query_all("gsi2pk = :pk", {":pk": keys.customer_pk(customer_id)}, index="gsi2", forward=not newest_first)
    )


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
    existing = customer_by_email(email, table)
    if existing:
        return existing
    new_customer_id = new_id("cus")
    try:
        create_customer(new_customer_id, email=email, name=name, phone=phone, source_channel=channel, table=table)
    except ConditionFailed:
        existing = customer_by_email(email, table)
        if not existing:
            raise
        return existing
    return new_customer_id


def create_customer(
    customer_id: str,
    *,
    email: str,
    name: str,
    phone: str | None,
    source_channel: str | None,
    marketing_consent: bool = False,
    table: Table | None = None,
) -> Item:
    """The profile and its email marker, both new (``ConditionFailed`` when either exists)."""
    created_at = now_iso()
    profile: dict[str, Any] = {
        "pk": keys.customer_pk(customer_id),
        "sk": PROFILE,
        "type": "customer",
        "customer_id": customer_id,
        "email": email.strip(),
        "name": name,
        "phone": phone,
        "marketing_consent": marketing_consent,
        "source_channel": source_channel,
        "created_at": created_at,
        "updated_at": created_at,
        **profile_index(customer_id, name, phone),
    }
    (table or Table()).transact(
        [
            {
                "Put": {
                    "Item": {
                        "pk": customer_email_pk(email),
                        "sk": "CUSTOMEREMAIL",
                        "type": "customer_email",
                        "customer_id": customer_id,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": {"Item": profile, "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
    )
    return profile


def update_profile(
    current: Item, *, email: str, name: str, phone: str | None, marketing_consent: bool, table: Table | None = None
) -> Item:
    """Replace a profile's fields; a new email moves the marker (refused when another customer owns it)."""
    table = table or Table()
    customer_id = current["customer_id"]
    profile = {
        **{k: v for k, v in current.items() if not k.startswith("gsi")},
        "email": email.strip(),
        "name": name,
        "phone": phone,
        "marketing_consent": marketing_consent,
        "consent_updated_at": now_iso()
        if marketing_consent != current.get("marketing_consent")
        else current.get("consent_updated_at"),
        "updated_at": now_iso(),
        **profile_index(customer_id, name, phone),
    }
    ops: list[dict[str, Any]] = [
        {
            "Put": {
                "Item": profile,
                "ConditionExpression": "updated_at = :seen",
                "ExpressionAttributeValues": {":seen": current["updated_at"]},
            }
        }
    ]
    old_email = str(current.get("email") or "")
    if customer_email_pk(old_email) != customer_email_pk(email):
        ops.append(
            {
                "Put": {
                    "Item": {
                        "pk": customer_email_pk(email),
                        "sk": "CUSTOMEREMAIL",
                        "type": "customer_email",
                        "customer_id": customer_id,
                    },
                    "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :me",
                    "ExpressionAttributeValues": {":me": customer_id},
                }
            }
        )
        if old_email:
            ops.append(
                {
                    "Delete": {
                        "Key": {"pk": customer_email_pk(old_email), "sk": "CUSTOMEREMAIL"},
                        "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :me",
                        "ExpressionAttributeValues": {":me": customer_id},
                    }
                }
            )
    table.transact(ops)
    return profile


# ---- read models ----------------------------------------------------------------------

# Every order of a day writes its facts item, and every line of a SKU its demand counter:
# each is written in a fixed number of partitions (the shard a digest of the order id, so
# an order's facts and its demand deltas always land in the same shard and a re-projection
# moves its own contribution), and readers query every shard and merge. Changing a count
# moves orders between shards: it needs the rebuild (docs/decisions.md).
FACTS_SHARDS = 8
DEMAND_SHARDS = 4


def facts_shard(order_id: str) -> int:
    return shard_of(order_id, FACTS_SHARDS)


def facts_pk(day: str, order_id: str) -> str:
    return sharded_key(legacy_facts_pk(day), order_id, FACTS_SHARDS)


def legacy_facts_pk(day: str) -> str:
    """The one partition a day's facts were written to before sharding (read until rebuilt)."""
    return f"FACTS#{day}"


def facts_pks(day: str) -> list[str]:
    """Every partition a day's facts can be in: the shards, then the legacy one."""
    return every_shard(legacy_facts_pk(day), FACTS_SHARDS)


def facts_sk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def lifetime_sk(currency: str) -> str:
    return f"LIFETIME#{currency}"


def demand_pk(sku: str, order_id: str) -> str:
    return sharded_key(legacy_demand_pk(sku), order_id, DEMAND_SHARDS)


def legacy_demand_pk(sku: str) -> str:
    """The one counter partition of a SKU before sharding (read until rebuilt)."""
    return f"DEMAND#{sku}"


def demand_shard_pks(sku: str) -> list[str]:
    return every_shard(legacy_demand_pk(sku), DEMAND_SHARDS)[:-1]


def demand_pks(sku: str) -> list[str]:
    """Every partition a SKU's counters can be in: the shards, then the legacy one."""
    return every_shard(legacy_demand_pk(sku), DEMAND_SHARDS)


def demand_day_pk(sku: str) -> str:
    return f"DEMANDSKU#{sku}"


def external_id_pk(external_id: str) -> str:
    return f"SEARCHEXT#{external_id.strip().lower()}"


def get_facts(day: str, order_id: str, table: Table | None = None) -> Item | None:
    """An order's facts: in its shard, else (projected before sharding, not moved yet) the
    legacy partition. Both are read at once: an order projected for the first time has neither."""
    found = {
        item["pk"]: item
        for item in (table or Table()).batch_get(
            [(facts_pk(day, order_id), facts_sk(order_id)), (legacy_facts_pk(day), facts_sk(order_id))],
            consistent=True,
        )
    }
    return found.get(facts_pk(day, order_id)) or found.get(legacy_facts_pk(day))


def facts_of_day(day: str, table: Table | None = None) -> list[Item]:
    """Every order's facts of a day, from all its partitions, in order id order (as one partition gave them)."""
    table = table or Table()
    found: dict[str, Item] = {}
    # The legacy partition first: an order moved to its shard while the day was read is taken from the shard.
    for pk in reversed(facts_pks(day)):
        for item in table.query_all("pk = :pk", {":pk": pk}):
            found[str(item["sk"])] = item
    return [found[sk] for sk in sorted(found)]


def facts_put_ops(facts: Mapping[str, Any], previous: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The facts item, pinned on the revision read: two projections of one order cannot both win.

    Facts read from the legacy partition move to the order's shard: the legacy item is
    deleted on the same revision condition, in the same transaction."""
    revision = int(previous["revision"]) + 1 if previous else 1
    item = {
        "pk": facts_pk(facts["day"], facts["order_id"]),
        "sk": facts_sk(facts["order_id"]),
        "type": "order_facts",
        **facts,
        "revision": revision,
    }
    if previous is None:
        return [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}]
    seen = {
        "ConditionExpression": "revision = :seen",
        "ExpressionAttributeValues": {":seen": int(previous["revision"])},
    }
    if previous["pk"] == item["pk"]:
        return [{"Put": {"Item": item, **seen}}]
    return [
        {"Delete": {"Key": {"pk": previous["pk"], "sk": previous["sk"]}, **seen}},
        {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
    ]


def lifetime_add_op(customer_id: str, currency: str, delta: Mapping[str, int]) -> dict[str, Any] | None:
    moved = {name: d for name, d in delta.items() if d}
    if not moved:
        return None
    names = {f"#f{i}": name for i, name in enumerate(moved)}
    values: dict[str, Any] = {f":d{i}": d for i, d in enumerate(moved.values())}
    values |= {":type": "customer_lifetime", ":cid": customer_id, ":cur": currency}
    adds = ", ".join(f"#f{i} :d{i}" for i in range(len(moved)))
    return {
        "Update": {
            "Key": {"pk": keys.customer_pk(customer_id), "sk": lifetime_sk(currency)},
            "UpdateExpression": f"SET #type = :type, customer_id = :cid, currency = :cur ADD {adds}",
            "ExpressionAttributeNames": {**names, "#type": "type"},
            "ExpressionAttributeValues": values,
        }
    }


def demand_month_keys(sku: str, day: str) -> dict[str, str]:
    """gsi1 of a SKU's demand day: the SKUs with demand in a month (the forecast batch's list of SKUs)."""
    return {"gsi1pk": f"DEMANDSKUS#{day[:7]}", "gsi1sk": f"{sku}#{day}"}


def demand_day_item(sku: str, day: str) -> Item:
    """The marker of a SKU with demand on a day, the only demand item in gsi1.

    It never changes once written, so its index entry is written once: the counters,
    which change with every order, stay out of the index (it projects whole items)."""
    return {"pk": demand_day_pk(sku), "sk": day, "type": "demand_day", "sku": sku, **demand_month_keys(sku, day)}


def missing_demand_days(pairs: Iterable[tuple[str, str]], table: Table | None = None) -> list[tuple[str, str]]:
    """The (sku, day) pairs of ``pairs`` without a marker yet (an eventually consistent read:
    a marker written a moment ago may be reported missing and is written again, unchanged)."""
    wanted = sorted(set(pairs))
    if not wanted:
        return []
    found = (table or Table()).batch_get([(demand_day_pk(sku), day) for sku, day in wanted])
    have = {(str(item["sku"]), str(item["sk"])) for item in found}
    return [pair for pair in wanted if pair not in have]


def put_demand_days(pairs: Iterable[tuple[str, str]], table: Table | None = None) -> None:
    (table or Table()).batch_put(demand_day_item(sku, day) for sku, day in pairs)


def demand_add_op(sku: str, day: str, delta: int, order_id: str) -> dict[str, Any]:
    """ADD an order's demand delta to its shard's counter of the SKU and day (no index keys)."""
    return {
        "Update": {
            "Key": {"pk": demand_pk(sku, order_id), "sk": day},
            "UpdateExpression": "SET #type = :type, sku = :sku ADD units :d",
            "ExpressionAttributeNames": {"#type": "type"},
            "ExpressionAttributeValues": {":type": "demand", ":sku": sku, ":d": delta},
        }
    }


def external_id_entry(facts: Mapping[str, Any], external_id: str) -> dict[str, Any]:
    return {
        "Put": {
            "Item": {
                "pk": external_id_pk(external_id),
                "sk": facts_sk(facts["order_id"]),
                "type": "search_external_id",
                "order_id": facts["order_id"],
                "channel": facts["channel"],
                "external_id": external_id,
            }
        }
    }


def lifetimes(customer_id: str, table: Table | None = None) -> list[Item]:
    items, _ = (table or Table()).query(
        "pk = :pk AND begins_with(sk, :lt)", {":pk": keys.customer_pk(customer_id), ":lt": "LIFETIME#"}, consistent=True
    )
    return items


def demand_history(sku: str, first_day: str, last_day: str, table: Table | None = None) -> dict[str, int]:
    """Units ordered per day of the range: the sum of the day's counters over the SKU's shards and legacy partition."""
    table = table or Table()
    units: dict[str, int] = {}
    for pk in demand_pks(sku):
        for r in table.query_all("pk = :pk AND sk BETWEEN :a AND :b", {":pk": pk, ":a": first_day, ":b": last_day}):
            units[str(r["sk"])] = units.get(str(r["sk"]), 0) + int(r.get("units", 0))
    return dict(sorted(units.items()))


def skus_with_demand(first_day: str, last_day: str, table: Table | None = None) -> list[str]:
    """Every SKU with demand on a day of the range: one gsi1 query per month, no scan.

    The month's entries are the day markers and, until rebuilt, the legacy unsharded
    counters (both keyed ``<sku>#<day>``)."""
    table = table or Table()
    found: set[str] = set()
    year, month = int(first_day[:4]), int(first_day[5:7])
    while f"{year:04d}-{month:02d}" <= last_day[:7]:
        # The index's keys say it all: no item is read.
        rows = table.query_all(
            "gsi1pk = :pk",
            {":pk": f"DEMANDSKUS#{year:04d}-{month:02d}"},
            index="gsi1",
            keys_only=True,
        )
        for r in rows:
            sku, day = str(r["gsi1sk"]).rsplit("#", 1)
            if first_day <= day <= last_day:
                found.add(sku)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(found)


def orders_by_external_id(external_id: str, table: Table | None = None) -> list[Item]:
    items, _ = (table or Table()).query("pk = :pk", {":pk": external_id_pk(external_id)}, limit=50)
    return items


def all_order_ids(table: Table | None = None) -> Iterable[str]:
    """Every order's id (every partition of gsi3 ``ORDERS#<nn>``), for the operator's rebuild."""
    table = table or Table()
    for pk in keys.order_index_pks():
        for entry in table.query_all("gsi3pk = :pk", {":pk": pk}, index="gsi3", keys_only=True):
            yield str(keys.order_id_of(str(entry["pk"])))


def latest_events(order_id: str, *, limit: int, table: Table | None = None) -> list[Item]:
    """An order's newest timeline events, newest first."""
    items, _ = (table or Table()).query(
        "pk = :pk AND begins_with(sk, :ev)",
        {":pk": keys.order_pk(order_id), ":ev": keys.EVENT_SK_PREFIX},
        forward=False,
        limit=limit,
    )
    return items


def outbox_items(order_id: str, table: Table | None = None) -> list[Item]:
    """The order's kept customer messages. Their key is notify's (``OUTBOX#<ord_id>``), which
    sits above customers and cannot be imported here; erasure is the only reader."""
    return list((table or Table()).query_all("pk = :pk", {":pk": f"OUTBOX#{order_id}"}, consistent=True))


def shipments_by_tracking(tracking_number: str, table: Table | None = None) -> list[Item]:
    items, _ = (table or Table()).query(
        "gsi2pk = :pk", {":pk": f"TRACKING#{tracking_number.strip()}"}, index="gsi2", limit=20
    )
    return items


ERASED = "[erased]"


def erase_order_op(order_id: str, erased_at: str) -> dict[str, Any]:
    """The order header without the customer's personal data; money, lines and statuses stay."""
    return {
        "Update": {
            "Key": {"pk": keys.order_pk(order_id), "sk": keys.ORDER_HEADER},
            "UpdateExpression": "SET customer = :who, shipping.address = :where, personal_data_erased_at = :at",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {
                ":who": {"email": None, "name": ERASED, "phone": None},
                ":where": {"line1": ERASED, "city": ERASED, "postal_code": ERASED, "country": "ZZ"},
                ":at": erased_at,
            },
        }
    }


def erase_outbox_op(message: Item) -> dict[str, Any]:
    """A customer message kept in the outbox: the recipient and the texts (which name the customer) go."""
    return {
        "Update": {
            "Key": {"pk": message["pk"], "sk": message["sk"]},
            "UpdateExpression": "SET #to = :erased, subject = :erased, #text = :erased, html = :erased",
            "ExpressionAttributeNames": {"#to": "to", "#text": "text"},
            "ExpressionAttributeValues": {":erased": ERASED},
        }
    }


def erase_profile_ops(profile: Item, erased_at: str) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = [
        {
            "Update": {
                "Key": {"pk": profile["pk"], "sk": PROFILE},
                "UpdateExpression": "SET #name = :erased, marketing_consent = :no, erased_at = :at, updated_at = :at "
                "REMOVE email, phone, gsi1pk, gsi1sk, gsi3pk, gsi3sk",
                "ExpressionAttributeNames": {"#name": "name"},
                "ExpressionAttributeValues": {":erased": ERASED, ":no": False, ":at": erased_at},
            }
        }
    ]
    if profile.get("email"):
        ops.append(
            {
                "Delete": {
                    "Key": {"pk": customer_email_pk(str(profile["email"])), "sk": "CUSTOMEREMAIL"},
                    "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :me",
                    "ExpressionAttributeValues": {":me": profile["customer_id"]},
                }
            }
        )
    return ops
