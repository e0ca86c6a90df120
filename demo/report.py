"""The demo's closing figures, read back through the HTTP API (and the outbox through the table)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from demo.agent import AgentLog
from demo.world import FORMATS, World
from infra import manifest
from infra.local.client import RunningStack
from infra.local.provision import local_name

SETTLED = ("completed", "failed", "cancelled", "on_hold")


def eur(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def seconds(since: str, until: str) -> float:
    return (datetime.fromisoformat(until) - datetime.fromisoformat(since)).total_seconds()


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"n={len(values)}"
    cuts = statistics.quantiles(values, n=10)
    return f"p50 {statistics.median(values):.1f}s, p90 {cuts[8]:.1f}s (n={len(values)})"


def print_channels(orders: list[dict[str, Any]]) -> None:
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for o in orders:
        c = rows[o["channel"]]
        c["orders"] += 1
        c[o["status"]] += 1
        for figure in ("authorized", "captured", "refunded"):
            c[figure] += o["payment_summary"][figure]
    print("\nOrders per channel (amounts in EUR)")
    print(
        f"  {'channel':<12}{'orders':>7}{'completed':>10}{'failed':>7}{'cancelled':>10}{'open':>5}"
        f"{'authorized':>13}{'captured':>13}{'refunded':>11}"
    )
    total: Counter[str] = Counter()
    for channel in sorted(rows):
        total.update(rows[channel])
        _channel_row(channel, rows[channel])
    _channel_row("all", total)


def _channel_row(name: str, c: Counter[str]) -> None:
    print(
        f"  {name:<12}{c['orders']:>7}{c['completed']:>10}{c['failed']:>7}{c['cancelled']:>10}"
        f"{c['open'] + c['on_hold']:>5}{eur(c['authorized']):>13}{eur(c['captured']):>13}{eur(c['refunded']):>11}"
    )


def print_fulfillment(orders: list[dict[str, Any]], world: World) -> None:
    stats = world.stats
    fos = [f for o in orders for f in o["fulfillment_orders"]]
    rerouted = sum(
        1
        for o in orders
        if any(f["status"] == "rejected" for f in o["fulfillment_orders"])
        and any(f["status"] != "rejected" for f in o["fulfillment_orders"])
    )
    shipments = [s for o in orders for s in o["shipments"]]
    to_ship, to_deliver = [], []
    for o in orders:
        shipped = sorted(s["shipped_at"] for s in o["shipments"])
        if shipped:
            to_ship.append(seconds(o["created_at"], shipped[0]))
        if o["fulfillment_status"] == "delivered":
            to_deliver.append(seconds(o["created_at"], max(s["delivered_at"] for s in o["shipments"])))
    print("\nFulfillment")
    print(
        f"  FOs: {len(fos)} created, {stats.worked} worked by the warehouses, {stats.rejected} rejected"
        f" (damaged stock), orders re-routed after a rejection: {rerouted}"
    )
    print(
        f"  Shipments: {len(shipments)} ({stats.split_fos} FOs shipped in two parts);"
        f" delivered: {sum(1 for s in shipments if s['tracking_status'] == 'delivered')} shipments,"
        f" {sum(1 for o in orders if o['fulfillment_status'] == 'delivered')} orders"
    )
    print(f"  Order to first shipment: {percentiles(to_ship)}")
    print(f"  Order to delivery:       {percentiles(to_deliver)}")


def print_carriers(world: World, forged_status: int, timelines: dict[str, list[dict[str, Any]]]) -> None:
    c = world.carriers
    per_format = ", ".join(f"{f} {c.posted[f]}" for f in FORMATS)
    twice = sum(
        1
        for events in timelines.values()
        for _, n in Counter(e["detail"].get("shipment_id") for e in events if e["kind"] == "shipment.delivered").items()
        if n > 1
    )
    print("\nCarrier webhooks")
    print(f"  Posted: {sum(c.posted.values())} ({per_format})")
    print(
        f"  Sent twice: {c.duplicates}, delivery before the scan before it: {c.out_of_order};"
        f" shipments delivered twice on the timeline: {twice} (duplicates ignored)"
    )
    print(f"  Exceptions reported: {c.exceptions}; forged signature answered {forged_status}")


def print_payments(orders: list[dict[str, Any]], tokens: dict[str, str]) -> None:
    by_token: dict[str, Counter[str]] = defaultdict(Counter)
    for o in orders:
        token = tokens.get(o["order_id"], "tok_visa")
        by_token[token][o["payment_status"]] += 1
    reauthorized = sum(1 for o in orders if any(p.get("replaces") for p in o["payments"]))
    print("\nPayments")
    for token in sorted(by_token):
        print(f"  {token:<14} {sum(by_token[token].values()):>4} orders, payment status {dict(by_token[token])}")
    print(f"  Re-authorized at capture (an expired authorization): {reauthorized}")


def print_changes(orders: list[dict[str, Any]], log: AgentLog) -> None:
    changes = [c for o in orders for c in o["changes"]]
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        by_kind[change["kind"]].append(change)

    def money(kind: str, what: str) -> str:
        return eur(sum(int((c.get(what) or {}).get("amount", 0)) for c in by_kind[kind]))

    print("\nChange orders")
    print(
        f"  Cancellations: {len(by_kind['cancel'])} ({len(log.cancelled_orders)} whole orders,"
        f" {len(log.cancelled_lines)} of some lines); refunded {money('cancel', 'refund')} EUR,"
        f" authorization released {money('cancel', 'release')} EUR"
    )
    returns = [r for o in orders for r in o["returns"] if r["return_id"] in log.returns]
    fees = sum(int(c["totals"].get("fees", 0)) for c in by_kind["return"])
    print(
        f"  Returns: {len(returns)} ({dict(Counter(r['status'] for r in returns))}); refunded"
        f" {eur(sum(r['refunded'] for r in returns))} EUR, restocking fees {eur(fees)} EUR"
    )
    exchange = next((r for o in orders for r in o["returns"] if r["return_id"] == log.exchange), None)
    if exchange:
        new = ", ".join(f"{x['sku']} x{x['quantity']}" for x in exchange["exchange"])
        print(
            f"  Exchange {exchange['return_id']}: {exchange['status']}, new {new},"
            f" refunded {eur(exchange['refunded'])} EUR"
        )
    else:
        print("  Exchange: none made")
    appeasements = by_kind["appeasement"]
    print(f"  Appeasements: {len(appeasements)}, refunded {money('appeasement', 'refund')} EUR ({log.appeased})")


def print_exceptions(exceptions: list[dict[str, Any]]) -> None:
    kinds = Counter(f"{e['step']}/{e.get('error', '?')}" for e in exceptions)
    print(f"\nProcess exceptions open: {len(exceptions)} {dict(kinds)}")


def outbox_kinds(stack: RunningStack, order_ids: list[str]) -> Counter[str]:
    """Customer messages kept in the local stack's outbox, by kind."""
    ddb = stack.aws("dynamodb")
    table = local_name(manifest.TABLE.name)
    kinds: Counter[str] = Counter()
    for order_id in order_ids:
        pages = ddb.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"OUTBOX#{order_id}"}},
            ProjectionExpression="kind",
        )
        kinds.update(item["kind"]["S"] for page in pages for item in page["Items"])
    return kinds


def executions_by_machine(stack: RunningStack) -> dict[str, Counter[str]]:
    sfn = stack.aws("stepfunctions")
    found: dict[str, Counter[str]] = {}
    for sm in sfn.list_state_machines()["stateMachines"]:
        statuses: Counter[str] = Counter()
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=sm["stateMachineArn"]):
            statuses.update(e["status"] for e in page["executions"])
        found[sm["name"].removeprefix(manifest.LOCAL_PREFIX)] = statuses
    return found


def print_surprises(world: World) -> None:
    s = world.surprises
    print(f"\nUnexpected responses: {sum(s.counts.values())}")
    for (what, status), n in s.counts.most_common(12):
        print(f"  {n:>4} x {status} {what}: {s.samples[(what, status)]}")
