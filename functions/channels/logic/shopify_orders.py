"""Shopify order webhooks in: verify, deduplicate, then capture, note or cancel the order.

Topics: ``orders/create`` captures the order; ``orders/updated`` captures it if its create
never arrived (Shopify does not promise order) and notes the update on the timeline;
``orders/cancelled`` (or an update that carries ``cancelled_at``) cancels here whatever is
not shipped. A delivery whose ``X-Shopify-Webhook-Id`` was already handled changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from functions.capture.api import OrderRequest, capture_order
from functions.changes.api import CancelRequest, cancel_order
from functions.channels.rules.shopify import UnmappableOrder, map_order
from functions.channels.rules.signatures import shopify_signature_valid
from functions.channels.store import claim_receipt, complete_receipt
from shared.api.caller import Caller
from shared.api.headers import header
from shared.errors import Conflict, InvalidInput, MalformedInput, NotFound, Unauthorized
from shared.integration_secrets import channel_shop
from shared.observability import logger
from shared.order.record import DuplicateOrder, find_order_id
from shared.order.timeline import append_event

PLATFORM = "shopify"
TOPICS = ("orders/create", "orders/updated", "orders/cancelled")
# How a cancellation Shopify asked for begins its reason (status updates back skip those).
CANCELLED_ON_SHOPIFY = "cancelled on Shopify"


def _header(headers: Mapping[str, str], name: str) -> str:
    return header(headers, name) or ""


def _verified_shop(body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    """The shop's configuration, once the body is proven to come from it (401 otherwise)."""
    shop = _header(headers, "X-Shopify-Shop-Domain")
    try:
        config = channel_shop(PLATFORM, shop) if shop else None
    except NotFound:
        config = None
    # An unknown shop and a bad signature look the same to the caller.
    if not config or not shopify_signature_valid(
        config.get("webhook_secret", ""), body, _header(headers, "X-Shopify-Hmac-Sha256")
    ):
        raise Unauthorized("missing or invalid Shopify signature")
    return config | {"shop": shop}


def _caller(channel: str) -> Caller:
    return Caller(principal_id=f"{PLATFORM}-webhook", role="channel", channel=channel)


def _capture(order: Mapping[str, Any], shop: Mapping[str, str]) -> dict[str, Any]:
    try:
        request = OrderRequest.model_validate(
            map_order(order, channel=shop["channel"], payment_provider=shop.get("payment_provider", "sandbox"))
        )
    except (UnmappableOrder, ValidationError) as err:
        raise InvalidInput(f"the Shopify order cannot be captured: {err}") from err
    try:
        view = capture_order(request, _caller(shop["channel"]))
    except DuplicateOrder as dup:
        return {"result": "exists", "order_id": dup.order_id}
    return {"result": "captured", "order_id": view.order_id, "total": view.totals.total}


def _cancel(order_id: str, shop: Mapping[str, str], reason: str) -> dict[str, Any]:
    try:
        cancel_order(_caller(shop["channel"]), order_id, CancelRequest(reason=reason), preview=False)
    except Conflict as err:  # nothing left to cancel (already cancelled or all shipped)
        return {"result": "not_cancelled", "order_id": order_id, "detail": err.detail}
    return {"result": "cancelled", "order_id": order_id}


def _apply(topic: str, order: Mapping[str, Any], shop: Mapping[str, str]) -> dict[str, Any]:
    external_id = str(order.get("id") or "")
    if not external_id:
        raise InvalidInput("the Shopify order has no id")
    order_id = find_order_id(shop["channel"], external_id)
    if topic == "orders/cancelled" or (topic == "orders/updated" and order.get("cancelled_at")):
        if order_id is None:
            return {"result": "unknown_order", "external_id": external_id}
        return _cancel(order_id, shop, f"{CANCELLED_ON_SHOPIFY} ({order.get('cancel_reason') or 'no reason given'})")
    if order_id is None:
        return _capture(order, shop)
    if topic == "orders/updated":
        append_event(order_id, "channel.order_updated", {"platform": PLATFORM, "updated_at": order.get("updated_at")})
        return {"result": "noted", "order_id": order_id}
    return {"result": "exists", "order_id": order_id}


def receive_shopify_webhook(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    shop = _verified_shop(body, headers)
    topic = _header(headers, "X-Shopify-Topic")
    webhook_id = _header(headers, "X-Shopify-Webhook-Id")
    if topic not in TOPICS:
        return {"result": "ignored", "topic": topic}
    if not webhook_id:
        raise MalformedInput("X-Shopify-Webhook-Id is missing")
    try:
        order = json.loads(body)
    except ValueError as err:
        raise MalformedInput("the body is not JSON") from err
    if not isinstance(order, dict):
        raise MalformedInput("the body is not a Shopify order")
    earlier = claim_receipt(PLATFORM, shop["shop"], webhook_id, topic)
    if earlier is not None:
        return {"result": "duplicate", **dict(earlier.get("outcome") or {})} | {"result": "duplicate"}
    outcome = _apply(topic, order, shop)
    complete_receipt(PLATFORM, shop["shop"], webhook_id, outcome)
    logger.info("shopify webhook", extra={"topic": topic, "shop": shop["shop"], **outcome})
    return outcome
