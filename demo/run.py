"""The main job on the local stack: the whole order lifecycle, played by its clients over HTTP.

Seeds a catalogue and four channels, places orders through the HTTP API (some replayed
with their Idempotency-Key, some duplicated, twenty kinds of bad input, a few with cards
that decline or a gateway that falters), while two warehouse systems work their
fulfillment orders and carriers post tracking updates. Then a service agent cancels,
takes returns, makes an exchange and an appeasement; the demo waits for everything to
settle (each wait with a time limit) and prints the figures.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from demo import report
from demo.agent import Agent
from demo.finale import print_finale
from demo.samples import CATALOGUE, CHANNEL_KEYS, LOCATIONS, SCARCE, bad_inputs, sample_order, stock_rows
from demo.shopify import ShopifyShop
from demo.world import Api, World
from infra.local.client import RunningStack, local_stack
from shared.order.quantities import LineQuantities

OPS = {"x-api-key": "dev-ops-key"}
# Concurrent channel clients. The local stack runs every function in one process, so
# more clients only queue longer; in the cloud each request gets its own environment.
CLIENTS = 4


def seed_network(stack: RunningStack, seed: int) -> None:
    """Locations, a routing policy with channel rules, and stock through a bulk import."""
    http = requests.Session()
    for location_id, (kind, city, lat, lon, capacity, groups) in LOCATIONS.items():
        body: dict[str, Any] = {"name": f"{city} {kind}", "type": kind, "lat": lat, "lon": lon, "groups": groups}
        if capacity:
            body["daily_capacity"] = capacity
        http.put(f"{stack.api_url}/v1/locations/{location_id}", json=body, headers=OPS, timeout=30).raise_for_status()
    policy = http.get(f"{stack.api_url}/v1/config/routing", headers=OPS, timeout=30).json()
    policy.pop("updated_at", None)
    policy["channels"] = {
        "pos": {"groups": ["stores-that-ship"]},  # the shops' own orders ship from shops
        "marketplace": {"groups": ["de-warehouses", "eu-warehouses"]},
    }
    http.put(f"{stack.api_url}/v1/config/routing", json=policy, headers=OPS, timeout=30).raise_for_status()
    rows = stock_rows(random.Random(seed), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    started = http.post(f"{stack.api_url}/v1/inventory/imports", json={"rows": rows}, headers=OPS, timeout=60).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = http.get(
            f"{stack.api_url}/v1/inventory/imports/{started['import_id']}", headers=OPS, timeout=30
        ).json()
        if status["status"] == "completed":
            break
        time.sleep(0.3)
    counts = status["counts"]
    print(
        f"Network: {len(LOCATIONS)} locations; stock import {started['import_id']}: "
        f"{counts['applied']} of {counts['rows']} rows applied, {counts['failed']} failed"
    )


@dataclass
class Outcome:
    created: list[dict[str, Any]] = field(default_factory=list)
    replays_same_id: int = 0
    replays_total: int = 0
    duplicates_409: int = 0
    rejected: list[tuple[str, int, str]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # order id -> payment token, when not tok_visa


def _post(http: requests.Session, url: str, key: str, body: Any, idem: str | None = None) -> requests.Response:
    headers = {"x-api-key": key, "content-type": "application/json"}
    if idem:
        headers["Idempotency-Key"] = idem
    data = body if isinstance(body, str) else None
    return http.post(url, json=None if data else body, data=data, headers=headers, timeout=30)


def payment_token(rng: random.Random) -> str:
    """Most cards approve; a few decline, a few meet a faltering gateway."""
    draw = rng.random()
    return "tok_decline" if draw < 0.05 else "tok_transient" if draw < 0.1 else "tok_visa"


def with_token(body: dict[str, Any], token: str) -> dict[str, Any]:
    """The order paid with ``token``; an unusual card buys only what is in stock, so its payment
    is tried at once rather than after a backorder that may never end."""
    body["payment"]["token"] = token
    if token != "tok_visa":
        body["lines"] = [x for x in body["lines"] if x["sku"] not in SCARCE] or [
            {"sku": "TEE-CLASSIC-M", "quantity": 1, "unit_price": CATALOGUE["TEE-CLASSIC-M"][1], "tax": 379}
        ]
        body.pop("promotions", None)
    return body


def place_orders(stack: RunningStack, count: int, seed: int) -> Outcome:
    rng = random.Random(seed)
    url = f"{stack.api_url}/v1/orders"
    outcome = Outcome()
    plans = []
    used: set[str] = set()
    for i in range(count):
        channel = rng.choices(list(CHANNEL_KEYS), weights=[50, 25, 15, 10])[0]
        body = sample_order(rng, channel, f"{channel.upper()}-{10000 + i}")
        # The shops' own orders pay at the till; the unusual cards come through web and app,
        # the first of them with an authorization that will have expired when it ships.
        online = channel in ("web", "app")
        token = payment_token(rng) if online else "tok_visa"
        with_token(body, "tok_expire" if online and "tok_expire" not in used else token)
        used.add(body["payment"]["token"])
        plans.append((channel, body, f"idem-{seed}-{i}"))

    def place(plan: tuple[str, dict[str, Any], str]) -> tuple[str, dict[str, Any], str, requests.Response]:
        channel, body, idem = plan
        with requests.Session() as http:
            return channel, body, idem, _post(http, url, CHANNEL_KEYS[channel], body, idem)

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(place, plans))
    http = requests.Session()
    for channel, body, idem, response in results:
        if response.status_code != 201:
            outcome.rejected.append((f"valid order refused ({channel})", response.status_code, response.text[:120]))
            continue
        order = response.json()
        outcome.created.append(order)
        if body["payment"]["token"] != "tok_visa":
            outcome.tokens[order["order_id"]] = body["payment"]["token"]
        if rng.random() < 0.1:  # the channel lost the response and sends the same request again
            outcome.replays_total += 1
            again = _post(http, url, CHANNEL_KEYS[channel], body, idem)
            outcome.replays_same_id += again.status_code == 201 and again.json()["order_id"] == order["order_id"]
        elif rng.random() < 0.05:  # the same order sent again without a key
            again = _post(http, url, CHANNEL_KEYS[channel], body)
            outcome.duplicates_409 += again.status_code == 409 and again.json().get("order_id") == order["order_id"]
    valid = sample_order(rng, "web", "WEB-BAD", max_lines=2)
    for what, body in bad_inputs(valid):
        response = _post(http, url, CHANNEL_KEYS["web"], body)
        problem = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        fields = ", ".join(e["field"] for e in problem.get("errors", [])) or "-"
        outcome.rejected.append((what, response.status_code, f"{problem.get('title', response.text[:60])} [{fields}]"))
    return outcome


def _order_rows(http: requests.Session, api_url: str) -> dict[str, dict[str, Any]]:
    """Every order's list row (status and fulfillment status), a page of 200 at a time."""
    rows: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        response = http.get(f"{api_url}/v1/orders", params=params, headers=OPS, timeout=60)
        if response.status_code != 200:  # a bad round: the caller polls again
            return rows
        page = response.json()
        rows.update({row["order_id"]: row for row in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return rows


def wait_for(
    stack: RunningStack, what: str, order_ids: list[str], pending: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, dict[str, Any]]:
    """Poll the order list until no order is ``pending`` or the time is up; say what did not finish.

    Polls the list, not each order: polling costs the local stack the CPU the work needs.
    """
    http = requests.Session()
    started = time.monotonic()
    rows: dict[str, dict[str, Any]] = {}
    late: list[str] = list(order_ids)
    while time.monotonic() - started < timeout:
        rows = _order_rows(http, stack.api_url) or rows
        late = [i for i in order_ids if i not in rows or pending(rows[i])]
        if not late:
            break
        time.sleep(2)
    print(f"  {what}: {len(order_ids) - len(late)}/{len(order_ids)} in {time.monotonic() - started:.0f}s", end="")
    if late:
        print(f"; not finished after {timeout:.0f}s: " + ", ".join(
            f"{i} ({rows.get(i, {}).get('status')}/{rows.get(i, {}).get('fulfillment_status')})" for i in late[:8]
        ) + (" ..." if len(late) > 8 else ""))  # fmt: skip
    else:
        print()
    return rows


def unallocated(row: dict[str, Any]) -> bool:
    return row["status"] == "open" and row["fulfillment_status"] == "unallocated"


def print_allocation(rows: dict[str, dict[str, Any]], outcome: Outcome) -> None:
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    gmv: Counter[str] = Counter()
    for order in outcome.created:
        row = rows.get(order["order_id"], order)
        by_channel[row["channel"]][row["fulfillment_status"]] += 1
        by_channel[row["channel"]]["orders"] += 1
        gmv[row["channel"]] += order["totals"]["total"]
    print("\nAfter allocation (orders per channel)")
    print(f"  {'channel':<12}{'orders':>7}{'allocated':>10}{'backordered':>12}{'GMV (EUR)':>13}")
    for channel in sorted(by_channel):
        c = by_channel[channel]
        placed = c["orders"] - c["unallocated"] - c["backordered"]
        print(f"  {channel:<12}{c['orders']:>7}{placed:>10}{c['backordered']:>12}{gmv[channel] / 100:>13,.2f}")


HELD_LINES = [("TEE-CLASSIC-M", 2), ("SOCKS-3PK", 1), ("BAG-TOTE", 1)]


def place_held_orders(stack: RunningStack, world: World, count: int) -> list[str]:
    """Orders the warehouses are told to leave alone until the agent has changed them."""
    http = requests.Session()
    held = []
    for i in range(count):
        body = sample_order(random.Random(i), "web", f"WEB-HELD-{i}")
        body["lines"] = [
            {"sku": sku, "quantity": q, "unit_price": CATALOGUE[sku][1], "tax": q * CATALOGUE[sku][1] * 19 // 100}
            for sku, q in HELD_LINES
        ]
        body["promotions"] = []
        body["payment"]["token"] = "tok_visa"
        response = _post(http, f"{stack.api_url}/v1/orders", CHANNEL_KEYS["web"], body, f"held-{i}")
        if response.status_code == 201:
            held.append(response.json()["order_id"])
            world.held.order_ids.add(held[-1])
    return held


def full_orders(stack: RunningStack, order_ids: list[str]) -> list[dict[str, Any]]:
    http = requests.Session()
    found = []
    for order_id in order_ids:
        response = http.get(f"{stack.api_url}/v1/orders/{order_id}", headers=OPS, timeout=60)
        if response.status_code == 200:
            found.append(response.json())
    return found


def agent_round(stack: RunningStack, world: World, agent: Agent, order_ids: list[str], held: list[str]) -> None:
    """Cancels before shipment, then returns, one exchange and one appeasement on delivered orders."""
    orders = full_orders(stack, order_ids)
    backordered = [o["order_id"] for o in orders if o["status"] == "open" and o["fulfillment_status"] == "backordered"]
    agent.clear_backorders(backordered)
    agent.cancel_held(held)
    world.held.release()
    delivered = [o for o in orders if o["fulfillment_status"] == "delivered" and o["status"] == "completed"]
    agent.return_units(delivered[::3], 6)
    agent.exchange(delivered[1::3])
    agent.appease(delivered[2::3])
    log = agent.log
    print(
        f"Agent: cancelled {len(log.cancelled_orders)} orders and lines of {len(log.cancelled_lines)} more,"
        f" {len(log.returns)} returns, exchange {log.exchange}, appeasement on {log.appeased}"
    )


def settled(row: dict[str, Any], order: Callable[[], dict[str, Any]] | None = None) -> bool:
    """Nothing more will happen to it: closed (delivered if anything shipped), or waiting for stock.

    ``order`` reads the whole order, asked for only when the row cannot tell: an order
    shipped in part may still have a parcel on its way, or only units waiting for stock.
    """
    if row["status"] == "open" and row["fulfillment_status"] == "backordered":
        return True  # shown as open in the figures: only new stock or a cancel moves it
    if row["status"] == "open" and row["fulfillment_status"] == "partially_shipped" and order is not None:
        return waits_for_stock_only(order())
    if row["status"] not in report.SETTLED:
        return False
    return row["status"] != "completed" or row["fulfillment_status"] == "delivered"


def waits_for_stock_only(order: dict[str, Any]) -> bool:
    """Every unit it holds stock for has shipped, and some it still wants have none yet."""
    lines = [LineQuantities.of(line) for line in order["lines"]]
    in_hand = any(q.allocated > q.shipped for q in lines)  # allocated counts shipped units
    return any(q.to_allocate > 0 for q in lines) and not in_hand


def wait_for_returns(agent: Agent, timeout: float) -> None:
    started = time.monotonic()
    wanted = [*agent.log.returns, *([agent.log.exchange] if agent.log.exchange else [])]
    open_ = wanted
    while open_ and time.monotonic() - started < timeout:
        views = [agent.api.send("GET", f"/v1/returns/{r}", "agent read return") for r in open_]
        open_ = [r for r, v in zip(open_, views, strict=True) if not v or v["status"] != "closed"]
        if open_:
            time.sleep(2)
    print(f"  returns closed: {len(wanted) - len(open_)}/{len(wanted)}" + (f"; still open: {open_}" if open_ else ""))


def timelines(stack: RunningStack, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    http = requests.Session()
    found: dict[str, list[dict[str, Any]]] = {}
    for order_id in order_ids:
        response = http.get(
            f"{stack.api_url}/v1/orders/{order_id}/timeline", params={"limit": 200}, headers=OPS, timeout=30
        )
        found[order_id] = response.json()["items"] if response.status_code == 200 else []
    return found


def open_exceptions(stack: RunningStack) -> list[dict[str, Any]]:
    http = requests.Session()
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"status": "open", "limit": "200", **({"cursor": cursor} if cursor else {})}
        response = http.get(f"{stack.api_url}/v1/exceptions", params=params, headers=OPS, timeout=30)
        if response.status_code != 200:
            return found
        page = response.json()
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def print_routing(orders: list[dict[str, Any]], events: dict[str, list[dict[str, Any]]]) -> None:
    shipments: Counter[int] = Counter()
    reasons: list[tuple[str, str, str]] = []
    for order in orders:
        plans = [e for e in events.get(order["order_id"], []) if e["kind"] == "order.allocated"]
        if plans:
            shipments[plans[0]["detail"]["shipments"]] += 1
            if len(reasons) < 6 and (plans[0]["detail"]["shipments"] > 1 or len(reasons) < 3):
                reasons.append((order["order_id"], order["channel"], plans[0]["detail"]["reason"]))
    allocated = sum(shipments.values())
    split = sum(n for k, n in shipments.items() if k > 1)
    print(f"\nLocations per first allocation: {dict(sorted(shipments.items()))}  (split: {split}/{allocated})")
    print("Routing decisions, a few of them:")
    for order_id, channel, reason in reasons:
        print(f"  {order_id} ({channel}): {reason}")


def print_intake(stack: RunningStack, world: World, outcome: Outcome) -> None:
    ops = Api(stack.api_url, OPS["x-api-key"], world.surprises)
    scarce = ops.send("GET", "/v1/availability", "ops availability", params={"sku": sorted(SCARCE)}) or {}
    atp = {i["sku"]: i["available_to_promise"] for i in scarce.get("items", [])}
    print("Scarce SKUs now (available to promise):", atp)
    print(
        f"Replays with the same Idempotency-Key: {outcome.replays_same_id}/{outcome.replays_total}"
        " returned the same order"
    )
    print(f"Same external_id without a key: {outcome.duplicates_409} answered 409 naming the existing order")
    print(f"\nRejected inputs ({len(outcome.rejected)})")
    for what, status, reason in outcome.rejected:
        print(f"  {status}  {what:<28} {reason}")


def summarize(stack: RunningStack, world: World, agent: Agent, outcome: Outcome, order_ids: list[str]) -> None:
    forged = world.carriers.forge("NO-SUCH-PARCEL")
    orders = full_orders(stack, order_ids)
    events = timelines(stack, order_ids)
    print("\n" + "=" * 96)
    report.print_channels(orders)
    report.print_fulfillment(orders, world)
    report.print_carriers(world, forged, events)
    report.print_payments(orders, outcome.tokens)
    report.print_changes(orders, agent.log)
    report.print_exceptions(open_exceptions(stack))
    print(f"Customer messages in the outbox: {dict(report.outbox_kinds(stack, order_ids).most_common())}")
    for machine, statuses in report.executions_by_machine(stack).items():
        print(f"{machine} executions: {dict(statuses)}")
    print_routing(orders, events)
    print_intake(stack, world, outcome)
    report.print_surprises(world)


def run(stack: RunningStack, orders: int, seed: int) -> None:
    seed_network(stack, seed)
    world = World(stack.api_url, seed)
    shop = ShopifyShop(stack.api_url)
    held = place_held_orders(stack, world, 3)
    world.start()
    try:
        started = time.monotonic()
        outcome = place_orders(stack, orders, seed)
        elapsed = time.monotonic() - started
        print(
            f"Placed {len(outcome.created)} orders in {elapsed:.1f}s"
            f" ({len(outcome.created) / elapsed:.0f}/s, {CLIENTS} clients), {len(held)} more held back"
        )
        shop.place()
        if shop.order_id:
            # Called as the order's capture is answered: its fulfillment order is released
            # only after its allocation and authorization, well after this.
            world.spare(shop.order_id)
        ids = [o["order_id"] for o in outcome.created]
        print("Waiting (each wait has a time limit):")
        print_allocation(wait_for(stack, "allocated or backordered", ids, unallocated, 120), outcome)
        wait_for(stack, "shipped, failed or backordered", ids, awaiting_shipment, 150)
        agent = Agent(stack.api_url, world, seed)
        agent_round(stack, world, agent, ids, held)
        everything = [*ids, *held]
        http = requests.Session()

        def whole_order(order_id: str) -> Callable[[], dict[str, Any]]:
            return lambda: http.get(f"{stack.api_url}/v1/orders/{order_id}", headers=OPS, timeout=60).json()

        wait_for(
            stack,
            "settled (closed, delivered if shipped)",
            everything,
            lambda r: not settled(r, whole_order(r["order_id"])),
            120,
        )
        wait_for_returns(agent, 60)
        shop.report()
        quiet_until = time.monotonic() + 30
        while not world.quiet() and time.monotonic() < quiet_until:
            time.sleep(1)
    finally:
        world.stop()
    print(f"Lifecycle played in {time.monotonic() - started:.0f}s")
    summarize(stack, world, agent, outcome, everything)
    print_finale(stack, outcome.created[0]["customer_id"], seed)


def awaiting_shipment(row: dict[str, Any]) -> bool:
    return row["status"] == "open" and row["fulfillment_status"] in ("unallocated", "allocated")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=45)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.monotonic()
    print(f"Catalogue: {len(CATALOGUE)} SKUs; channels: {', '.join(CHANNEL_KEYS)}")
    with local_stack() as stack:
        print(f"Local stack up in {stack.started_in:.1f}s (API {stack.api_url}, AWS {stack.aws_url})")
        print(f"Web console: {stack.api_url}/console (sign in with a key from the README, e.g. dev-ops-key)")
        run(stack, args.orders, args.seed)
    print(f"\nDemo run time: {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
