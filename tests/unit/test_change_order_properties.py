"""Change orders under random sequences of cancels, shipments, returns, receipts,
exchanges and appeasements: the buckets stay consistent, the figures are the original
plus the changes, money reconciles to the cent, and stock is conserved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.capture.logic.models import OrderRequest
from functions.capture.rules.pricing import price_order
from functions.changes.logic.cancel_plan import money_effect, plan_cancellation
from functions.changes.rules.figures import change_totals, order_figures
from functions.changes.rules.policy import ChangePolicy
from functions.returns.rules.exchange_pricing import Replacement, price_replacements
from functions.returns.rules.refunds import (
    ReturnedUnits,
    expected_refund,
    refund_lines,
    restock_quantities,
    settle_return_refund,
)
from shared.errors import Conflict, InvalidInput
from shared.order.amounts import shipped_amounts
from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord

REASONS = ("changed_mind", "too_small", "damaged_in_transit", "wrong_item")


def _order(lines: list[tuple[int, int, int, int]], promo: int, shipping: int) -> OrderRecord:
    request = OrderRequest.model_validate(
        {
            "channel": "web",
            "external_id": "P-1",
            "customer": {"email": "a@example.com", "name": "A"},
            "currency": "EUR",
            "lines": [
                {"sku": f"SKU-{i}", "quantity": q, "unit_price": p, "discount": min(d, q * p), "tax": t}
                for i, (q, p, d, t) in enumerate(lines)
            ],
            "shipping": {
                "address": {"line1": "x", "city": "y", "postal_code": "1", "country": "DE"},
                "method": "standard",
                "amount": shipping,
            },
            "promotions": [{"code": "P", "amount": promo}] if promo else [],
            "payment": {"provider": "sandbox", "token": "tok_approve"},
        }
    )
    priced, totals = price_order(request)
    items = [
        {
            "line_id": f"ln_{i}",
            "position": i + 1,
            "sku": line.sku,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "subtotal": p.subtotal,
            "discount": p.discount,
            "tax": p.tax,
            "shipping": p.shipping,
            "quantities": {"ordered": line.quantity},
        }
        for i, (line, p) in enumerate(zip(request.lines, priced, strict=True))
    ]
    return OrderRecord(header={"totals": totals.as_dict()}, lines=items, others={"CHG": []})


@dataclass
class Return:
    units: list[ReturnedUnits]
    outstanding: dict[str, int]
    credit: int = 0
    credit_used: int = 0
    waive_fees: bool = False


@dataclass
class World:
    record: OrderRecord
    policy: ChangePolicy
    authorized: int
    captured: int = 0
    refunded: int = 0
    released: int = 0
    stock: dict[str, int] = field(default_factory=dict)
    initial_stock: dict[str, int] = field(default_factory=dict)
    inbound: dict[str, int] = field(default_factory=dict)
    shipped_units: dict[str, int] = field(default_factory=dict)
    restocked: dict[str, int] = field(default_factory=dict)
    returns: list[Return] = field(default_factory=list)
    clock: int = 0

    def line(self, i: int) -> dict[str, Any]:
        return self.record.lines[i % len(self.record.lines)]

    def add_change(self, kind: str, lines: list[dict[str, Any]], totals: dict[str, int]) -> None:
        self.clock += 1
        assert (
            sum(r["total"] for r in lines)
            + totals.get("credit", 0)
            - (totals["discount"] - sum(r["discount"] for r in lines))
            == totals["total"]
        ), "change lines add up to the change"
        self.record.others["CHG"].append(
            {"change_id": f"chg_{self.clock}", "kind": kind, "created_at": f"{self.clock:06d}", "totals": totals}
        )

    def refund(self, amount: int) -> None:
        assert 0 <= amount <= self.captured - self.refunded, "refund within captured funds"
        self.refunded += amount

    # -- operations -------------------------------------------------------------

    def ship(self, i: int, q: int) -> None:
        line = self.line(i)
        b = line["quantities"]
        q = min(q, LineQuantities.of(line).cancellable)
        if q <= 0:
            return
        sku = line["sku"]
        if self.stock.get(sku, 0) < q:  # a stock receipt comes in first
            self.inbound[sku] = self.inbound.get(sku, 0) + q
            self.stock[sku] = self.stock.get(sku, 0) + q
        amount = shipped_amounts(line, LineQuantities.of(line).shipped, q).total
        self.captured += amount
        assert self.captured <= self.authorized + self._reauthorized(), "capture within what was authorized"
        b["shipped"] = b.get("shipped", 0) + q
        b["allocated"] = max(b.get("allocated", 0), b["shipped"])
        self.stock[sku] -= q
        self.shipped_units[sku] = self.shipped_units.get(sku, 0) + q

    def _reauthorized(self) -> int:
        # Exchange lines are authorized by the lifecycle that ships them.
        return sum(int(c["totals"]["total"]) for c in self.record.others["CHG"] if c["kind"] == "exchange")

    def cancel(self, i: int, q: int) -> None:
        line = self.line(i)
        try:
            plan = plan_cancellation(self.record.lines, [(line["line_id"], q)], refund_shipping=True)
        except Conflict:
            assert q > LineQuantities.of(line).cancellable
            return
        needed_after = order_figures(self.record)["total"] - plan.value
        effect = money_effect(
            plan.value,
            captured=self.captured,
            refunded=self.refunded,
            authorized_open=self.authorized + self._reauthorized() - self.captured - self.released,
            needed_after=needed_after,
        )
        assert effect.release + effect.refund <= plan.value
        self.refund(effect.refund)
        self.released += effect.release
        line["quantities"]["cancelled"] = LineQuantities.of(line).cancelled + q
        self.add_change("cancel", plan.change_lines, plan.totals)

    def authorize_return(self, i: int, q: int, reason: str, exchange: bool, price: int | None) -> None:
        line = self.line(i)
        b = LineQuantities.of(line)
        if q > b.returnable or q <= 0:
            return
        units = [ReturnedUnits(line, q, reason, b.returned + b.return_initiated)]
        line["quantities"]["return_initiated"] = b.return_initiated + q
        ret = Return(units, {line["line_id"]: q}, waive_fees=exchange)
        if exchange:
            expected = expected_refund(units, self.policy, waive_fees=True)
            new_lines, credit = price_replacements(
                [Replacement(line["sku"] + "-X", q, price)], units, expected_refund=expected
            )
            for n, new in enumerate(new_lines):
                new["line_id"] = f"ln_x{self.clock}_{n}"
                self.record.lines.append(new)
            rows = [
                {k: new[k] for k in ("subtotal", "discount", "tax", "shipping", "total")} | {"fee": 0}
                for new in new_lines
            ]
            ret.credit = credit
            self.add_change("exchange", rows, change_totals(rows))
        self.returns.append(ret)

    def receive(self, r: int, q: int, resellable: bool) -> None:
        if not self.returns:
            return
        ret = self.returns[r % len(self.returns)]
        unit = ret.units[0]
        line = unit.line
        q = min(q, ret.outstanding[line["line_id"]])
        if q <= 0:
            return
        b = LineQuantities.of(line)
        received = [ReturnedUnits(line, q, unit.reason, b.returned)]
        line["quantities"]["returned"] = b.returned + q
        line["quantities"]["return_initiated"] = b.return_initiated - q
        ret.outstanding[line["line_id"]] -= q
        receipt = [{"line_id": line["line_id"], "quantity": q, "condition": "resellable" if resellable else "damaged"}]
        for sku, units in restock_quantities(receipt, {line["line_id"]: line}).items():
            self.stock[sku] = self.stock.get(sku, 0) + units
            self.restocked[sku] = self.restocked.get(sku, 0) + units
        settled = settle_return_refund(
            refund_lines(received, self.policy, waive_fees=ret.waive_fees),
            credit_left=ret.credit - ret.credit_used,
            refundable=self.captured - self.refunded,
        )
        ret.credit_used += settled.credit_used
        self.refund(settled.refund)
        self.add_change("return", settled.lines, settled.totals)

    def appease(self, amount: int) -> None:
        refundable = self.captured - self.refunded
        amount = min(amount, refundable)
        if amount <= 0:
            return
        self.refund(amount)
        self.add_change("appeasement", [], change_totals([], discount=amount))

    def finish(self) -> None:
        """Ship every live unit and receive every unit still expected."""
        for i in range(len(self.record.lines)):
            self.ship(i, 10**6)
        for r in range(len(self.returns)):
            self.receive(r, 10**6, True)


def _check(world: World) -> None:
    for line in world.record.lines:
        assert LineQuantities.of(line).consistent(), line["quantities"]
    figures = order_figures(world.record)
    changes = world.record.others["CHG"]
    assert figures["total"] == world.record.header["totals"]["total"] + sum(c["totals"]["total"] for c in changes)
    for name in ("subtotal", "discount", "tax", "shipping"):
        assert figures[name] == world.record.header["totals"][name] + sum(c["totals"][name] for c in changes)
    assert (
        figures["total"]
        == (figures["subtotal"] - figures["discount"] + figures["tax"] + figures["shipping"] + figures["fees"])
        + figures["credit"]
    )
    assert 0 <= world.refunded <= world.captured
    for sku, on_hand in world.stock.items():
        expected = (
            world.initial_stock.get(sku, 0)
            + world.inbound.get(sku, 0)
            - world.shipped_units.get(sku, 0)
            + world.restocked.get(sku, 0)
        )
        assert on_hand == expected >= 0


line_st = st.tuples(st.integers(1, 5), st.integers(1, 20_000), st.integers(0, 3_000), st.integers(0, 4_000))
op_st = st.one_of(
    st.tuples(st.just("ship"), st.integers(0, 9), st.integers(1, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 9), st.integers(1, 5)),
    st.tuples(
        st.just("return"),
        st.integers(0, 9),
        st.integers(1, 5),
        st.sampled_from(REASONS),
        st.booleans(),
        st.none() | st.integers(0, 30_000),
    ),
    st.tuples(st.just("receive"), st.integers(0, 9), st.integers(1, 5), st.booleans()),
    st.tuples(st.just("appease"), st.integers(1, 5_000)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(line_st, min_size=1, max_size=4),
    promo_share=st.integers(0, 30),
    shipping=st.integers(0, 2_500),
    ops=st.lists(op_st, max_size=25),
    refund_shipping_on_return=st.booleans(),
)
def test_random_change_sequences_keep_every_invariant(lines, promo_share, shipping, ops, refund_shipping_on_return):
    record = _order(lines, 0, shipping)
    net = sum(line["subtotal"] - line["discount"] for line in record.lines)
    promo = net * promo_share // 100
    record = _order(lines, promo, shipping)
    policy = ChangePolicy(refund_shipping_on_return=refund_shipping_on_return)
    world = World(record=record, policy=policy, authorized=record.header["totals"]["total"])
    world.initial_stock = {line["sku"]: 3 for line in record.lines}
    world.stock = dict(world.initial_stock)
    for op in ops:
        kind = op[0]
        if kind == "ship":
            world.ship(op[1], op[2])
        elif kind == "cancel":
            world.cancel(op[1], op[2])
        elif kind == "return":
            world.authorize_return(op[1], op[2], op[3], op[4], op[5])
        elif kind == "receive":
            world.receive(op[1], op[2], op[3])
        else:
            world.appease(op[1])
        _check(world)
    world.finish()
    _check(world)
    # Once everything shipped and every return settled, the customer paid exactly the
    # order's current figure: the original plus its changes, to the cent.
    assert world.captured - world.refunded == order_figures(world.record)["total"]


def test_a_cancel_of_the_whole_order_takes_off_every_unshipped_unit_exactly():
    record = _order([(3, 1999, 100, 300), (1, 4999, 0, 950), (2, 333, 0, 0)], 1000, 499)
    record.lines[0]["quantities"]["shipped"] = 1
    plan = plan_cancellation(record.lines, None)
    assert [p.quantity for p in plan.lines] == [2, 1, 2]
    shipped = shipped_amounts(record.lines[0], 0, 1).total
    assert plan.value + shipped == record.header["totals"]["total"]


def test_cancel_refuses_shipped_units_and_unknown_lines():
    record = _order([(2, 1000, 0, 0)], 0, 0)
    record.lines[0]["quantities"]["shipped"] = 2
    with pytest.raises(Conflict):
        plan_cancellation(record.lines, [("ln_0", 1)])
    with pytest.raises(Conflict):
        plan_cancellation(record.lines, None)
    with pytest.raises(InvalidInput):
        plan_cancellation(record.lines, [("ln_9", 1)])


def test_money_effect_refunds_only_what_was_captured_beyond_the_need():
    # Paid 100 upfront for an order now worth 60: cancelling 40 refunds 40.
    assert money_effect(40, captured=100, refunded=0, authorized_open=0, needed_after=60).refund == 40
    # Nothing captured yet: the whole value is released from the authorization.
    effect = money_effect(40, captured=0, refunded=0, authorized_open=100, needed_after=60)
    assert (effect.release, effect.refund) == (40, 0)


def test_restocking_fee_and_shipping_follow_the_policy():
    record = _order([(2, 5000, 0, 1000)], 0, 800)
    line = record.lines[0]
    policy = ChangePolicy()
    kept = refund_lines([ReturnedUnits(line, 1, "changed_mind", 0)], policy)[0]
    assert (kept["subtotal"], kept["tax"], kept["shipping"], kept["fee"]) == (-5000, -500, 0, 500)
    assert kept["total"] == -5000
    faulty = refund_lines([ReturnedUnits(line, 1, "wrong_item", 0)], policy)[0]
    assert (faulty["shipping"], faulty["fee"], faulty["total"]) == (-400, 0, -5900)


def test_a_same_price_exchange_moves_no_money():
    record = _order([(2, 2999, 0, 570)], 0, 499)
    line = record.lines[0]
    units = [ReturnedUnits(line, 1, "too_small", 0)]
    expected = expected_refund(units, ChangePolicy(), waive_fees=True)
    new_lines, credit = price_replacements([Replacement("SKU-L", 1)], units, expected_refund=expected)
    assert new_lines[0]["total"] == 0 and credit == expected == 2999 + 285
    settled = settle_return_refund(refund_lines(units, ChangePolicy(), waive_fees=True), credit_left=credit)
    assert settled.refund == 0 and settled.totals["total"] == 0
