"""Fraud screening, once per order, before its release to fulfillment.

Gathers the facts the rules need (the customer's history before this order, from the
customers' read models; the orders seen in the window per e-mail, payment token and
address), asks the configured provider, scores with the policy's weights
(``rules/fraud.py``) and, above the threshold, puts a ``fraud_review`` hold. The verdict,
the velocity counts and the hold commit in one transaction conditioned on no verdict yet,
so a retried step screens (and counts) an order once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from functions.customers.api import get_facts, lifetimes, placed_at
from functions.holds import store
from functions.holds.logic.holds import place
from functions.holds.logic.policy import load_policy
from functions.holds.logic.providers import provider_for
from functions.holds.rules.fraud import OrderFacts, Verdict, score
from functions.holds.rules.policy import FraudPolicy, HoldPolicy
from shared.clock import iso, now, now_iso
from shared.errors import NotFound, RetryableError
from shared.ids import new_id
from shared.observability import logger
from shared.order import keys
from shared.order.state import is_closed
from shared.table import ConditionFailed, Item, Table

_ATTEMPTS = 3


def velocity_values(header: Mapping[str, Any]) -> dict[str, str]:
    """What the velocity counters key on: the e-mail, the payment token, the shipping address."""
    address = (header.get("shipping") or {}).get("address") or {}
    payment = header.get("payment") or {}
    values = {
        "email": str((header.get("customer") or {}).get("email") or ""),
        "card": f"{payment.get('provider', '')}:{payment.get('token', '')}" if payment.get("token") else "",
        "address": "|".join(str(address.get(k) or "") for k in ("line1", "postal_code", "country")),
    }
    return {kind: value for kind, value in values.items() if value.strip("|")}


def _history(header: Mapping[str, Any]) -> tuple[int, int | None]:
    """The customer's orders and average order value before this order, in its currency."""
    customer_id = header.get("customer_id")
    if not customer_id:
        return 0, None
    lifetime = next((lt for lt in lifetimes(str(customer_id)) if lt.get("currency") == header["currency"]), None)
    if lifetime is None:
        return 0, None
    orders, ordered = int(lifetime.get("orders", 0)), int(lifetime.get("ordered", 0))
    own = get_facts(placed_at(header)[:10], str(header["order_id"]))
    if own is not None:  # the read model already counts this order: take it out
        orders -= int(own.get("orders", 0))
        ordered -= int(own.get("ordered", 0))
    return max(orders, 0), (ordered // orders if orders > 0 else None)


def facts_of(header: Mapping[str, Any], velocity: Mapping[str, int]) -> OrderFacts:
    prior_orders, prior_average = _history(header)
    shipping = header.get("shipping") or {}
    return OrderFacts(
        total=int(header["totals"]["total"]),
        shipping_method=str(shipping.get("method", "standard")),
        shipping_country=str((shipping.get("address") or {}).get("country", "")),
        billing_country=(header.get("billing_address") or {}).get("country"),
        prior_orders=prior_orders,
        prior_average=prior_average,
        velocity=velocity,
    )


def _provider_score(header: Mapping[str, Any], policy: FraudPolicy) -> tuple[int | None, dict[str, Any]]:
    provider = provider_for(policy.provider)
    if provider is None:
        return None, {}
    try:
        result = provider.screen(header)
    except Exception as err:  # any provider failure: the rules decide alone
        logger.warning("fraud provider failed", extra={"provider": provider.name, "error": type(err).__name__})
        return None, {"provider": provider.name, "provider_error": type(err).__name__}
    return max(0, min(100, result.score)), {
        "provider": provider.name,
        "provider_score": result.score,
        "provider_reference": result.reference,
        "provider_reasons": result.reasons,
    }


def _verdict_item(verdict: Verdict, policy: FraudPolicy, velocity: Mapping[str, int], extra: dict[str, Any]) -> Item:
    return {
        "score": verdict.score,
        "threshold": policy.threshold,
        "signals": verdict.signals,
        "velocity": dict(velocity),
        "hold": verdict.hold,
        "screened_at": now_iso(),
        **extra,
    }


def _verdict_and_header(order_id: str, table: Table) -> tuple[Item | None, Item | None]:
    """The order's verdict and its header, in one consistent read (either may be missing)."""
    verdict_key, header_key = store.screening_key(order_id), (keys.order_pk(order_id), keys.ORDER_HEADER)
    found = {(item["pk"], item["sk"]): item for item in table.batch_get([verdict_key, header_key], consistent=True)}
    return found.get(verdict_key), found.get(header_key)


def screen_order(order_id: str, policy: HoldPolicy | None = None) -> tuple[dict[str, Any], Item | None]:
    """The order's verdict (screening it first if it has none), and the header read with it,
    unless this screening placed a hold (None then): the gate reads no second one."""
    table = Table()
    fraud = (policy or load_policy()).fraud
    for _ in range(_ATTEMPTS):
        known, header = _verdict_and_header(order_id, table)
        if header is None:
            raise NotFound(f"no order {order_id}")
        if known is not None:
            return known, header
        if is_closed(header):
            return {"hold": False, "skipped": header["status"]}, header  # nothing will be released
        if not fraud.enabled:
            disabled = {"enabled": False, "hold": False, "screened_at": now_iso()}
            try:
                table.transact([store.screening_put_op(order_id, disabled)])
            except ConditionFailed:
                continue  # screened meanwhile: that verdict stands
            return disabled, header
        moment = now()
        pks = {kind: store.velocity_key(kind, value) for kind, value in velocity_values(header).items()}
        window = fraud.velocity_window_hours
        velocity = {kind: store.velocity_count(pk, moment, window, table) + 1 for kind, pk in pks.items()}
        provider_score, provider_detail = _provider_score(header, fraud)
        verdict = score(facts_of(header, velocity), fraud, provider_score)
        item = _verdict_item(verdict, fraud, velocity, provider_detail)
        counted = [store.velocity_add_op(pk, moment, window) for pk in pks.values()]
        try:
            if verdict.hold:
                expires = iso(moment + timedelta(hours=fraud.hold_hours)) if fraud.hold_hours else None
                item["hold_id"] = new_id("hld")
                place(
                    order_id,
                    "fraud_review",
                    note=f"fraud score {verdict.score} over {fraud.threshold}: {', '.join(sorted(verdict.signals))}",
                    expires_at=expires,
                    on_expiry=(policy or load_policy()).action_on_expiry("fraud_review"),
                    extra_ops=[store.screening_put_op(order_id, item), *counted],
                    source="fraud_screening",
                    hold_id=item["hold_id"],
                )
            else:
                table.transact([store.screening_put_op(order_id, item), *counted])
        except ConditionFailed:
            continue  # screened meanwhile, or the header moved: look again
        logger.info("order screened", extra={"order_id": order_id, "score": verdict.score, "hold": verdict.hold})
        return item, None if verdict.hold else header
    raise RetryableError(f"order {order_id} kept changing while screening")
