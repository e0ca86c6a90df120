"""Status back to the sales platform: what the OMS did to an order it took from Shopify
(shipped with carrier and tracking, cancelled, refunded) goes to the shop's Admin API.

Each domain event is one status update, recorded under the order (``CHANNELSYNC#<event
id>``) before it is sent and marked sent after, so a redelivered event is not sent twice
and a shipment whose first attempt reached Shopify unrecorded is found there by its
tracking number. A Shopify that cannot answer now is tried again later through the
ChannelStatus queue (delays doubling from ``channel_status_retry_base_seconds``); after
``MAX_ATTEMPTS``, or at once when Shopify refuses the request, the update is parked
``failed`` (the event kept on it) and a process exception is opened for an operator.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from functions.channels.logic.shopify_admin import AdminRefused, AdminUnavailable, HttpShopifyAdmin, ShopifyAdmin
from functions.channels.logic.shopify_orders import CANCELLED_ON_SHOPIFY
from functions.channels.rules import shopify_status as gql
from functions.channels.rules.webhooks import retry_delay
from functions.channels.store import claim_status_update, finish_status_update
from shared.integration_secrets import channel_shops
from shared.money import CURRENCY_EXPONENTS
from shared.order.record import get_header
from shared.order.timeline import append_event
from shared.process_exceptions import record_exception
from shared.queues import send_messages
from shared.settings import get_settings

PLATFORM = "shopify"
MAX_ATTEMPTS = 6

AdminFactory = Callable[[str, Mapping[str, str]], ShopifyAdmin]


def _http_admin(shop: str, config: Mapping[str, str]) -> ShopifyAdmin:
    return HttpShopifyAdmin(shop, config.get("admin_token", ""), config.get("admin_api_url") or None)


admin_for: AdminFactory = _http_admin


def _shop_of(channel: str) -> tuple[str, dict[str, str]] | None:
    for shop, config in channel_shops(PLATFORM).items():
        if config.get("channel") == channel:
            return shop, config
    return None


def handle_message(body: Mapping[str, Any]) -> dict[str, Any]:
    """A queue record: an EventBridge event, or ``{"status_update": <event>, "attempt": n}``."""
    if "status_update" in body:
        return sync_status(body["status_update"], attempt=int(body.get("attempt") or 1))
    return sync_status(body, attempt=1)


def sync_status(event: Mapping[str, Any], *, attempt: int) -> dict[str, Any]:
    kind = str(event.get("detail-type") or "")
    detail = dict(event.get("detail") or {})
    if kind not in gql.STATUS_EVENT_TYPES or not detail.get("order_id"):
        return {"result": "ignored", "event_type": kind}
    header = get_header(str(detail["order_id"]))  # the channel, its number and currency: the header is enough
    if header is None:
        return {"result": "unknown_order"}
    order_id = header["order_id"]
    found = _shop_of(str(header.get("channel") or ""))
    if found is None:
        return {"result": "not_a_platform_order"}
    shop, config = found
    if not config.get("admin_token"):
        return {"result": "not_configured", "shop": shop}
    if kind == "order.cancelled" and str(detail.get("reason") or "").startswith(CANCELLED_ON_SHOPIFY):
        return {"result": "from_the_platform"}  # Shopify told us; telling it back would loop
    if kind == "payment.refunded" and detail.get("status") == "failed":
        return {"result": "nothing_refunded"}
    event_id = str(detail["event_id"])
    if not claim_status_update(order_id, event_id, kind, attempt):
        return {"result": "duplicate", "order_id": order_id}
    try:
        sent = _send(admin_for(shop, config), kind, detail, str(header["external_id"]), str(header["currency"]))
    except AdminUnavailable as err:
        return _later(order_id, event, event_id, attempt, str(err))
    except (AdminRefused, gql.NothingToFulfill) as err:
        return _park(order_id, event_id, kind, str(err))
    finish_status_update(order_id, event_id, status="sent", outcome=sent)
    append_event(order_id, "channel.status_sent", {"platform": PLATFORM, "shop": shop, "event_type": kind, **sent})
    return {"result": "sent", "order_id": order_id, **sent}


def _send(admin: ShopifyAdmin, kind: str, detail: Mapping[str, Any], external_id: str, currency: str) -> dict[str, Any]:
    order = gql.order_gid(external_id)
    if kind == "shipment.shipped":
        tracking = str(detail.get("tracking_number") or "")
        state = admin.graphql(gql.FULFILLMENT_STATE, {"id": order})
        if tracking and gql.already_fulfilled(state, tracking):
            return {"action": "fulfillment", "tracking_number": tracking, "found": True}
        shipped: dict[str, int] = {}
        for line in detail.get("lines") or []:
            shipped[str(line["sku"])] = shipped.get(str(line["sku"]), 0) + int(line["quantity"])
        fulfillment = gql.fulfillment_input(state, shipped, str(detail.get("carrier") or ""), tracking)
        data = admin.graphql(gql.FULFILLMENT_CREATE, {"fulfillment": fulfillment})
        _refused_if(gql.user_errors(data, "fulfillmentCreate"))
        created = (data.get("fulfillmentCreate") or {}).get("fulfillment") or {}
        return {"action": "fulfillment", "tracking_number": tracking, "fulfillment_id": created.get("id")}
    if kind == "order.cancelled":
        variables = {
            "orderId": order,
            "reason": "OTHER",
            "restock": True,
            "refund": False,
            "staffNote": str(detail.get("reason") or "")[:250],
        }
        data = admin.graphql(gql.ORDER_CANCEL, variables)
        _refused_if(gql.user_errors(data, "orderCancel"))
        return {"action": "cancel"}
    amount = int(detail.get("amount") or 0)
    note = f"Refunded by the OMS (credit memo {detail.get('credit_memo_id')})"
    refund_input = {
        "orderId": order,
        "note": note,
        "notify": False,
        "transactions": [
            {"orderId": order, "kind": "REFUND", "gateway": "manual", "amount": _amount(amount, currency)}
        ],
    }
    data = admin.graphql(gql.REFUND_CREATE, {"input": refund_input})
    _refused_if(gql.user_errors(data, "refundCreate"))
    return {"action": "refund", "amount": amount}


def _amount(minor: int, currency: str) -> str:
    exponent = CURRENCY_EXPONENTS.get(currency.upper(), 2)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def _refused_if(errors: list[str]) -> None:
    if errors:
        raise AdminRefused("; ".join(errors))


def _later(order_id: str, event: Mapping[str, Any], event_id: str, attempt: int, error: str) -> dict[str, Any]:
    if attempt >= MAX_ATTEMPTS:
        return _park(order_id, event_id, str(event.get("detail-type")), f"after {attempt} attempts: {error}")
    finish_status_update(order_id, event_id, status="retrying", outcome={"error": error[:500], "attempts": attempt})
    delay = retry_delay(attempt, get_settings().channel_status_retry_base_seconds)
    message = json.dumps({"status_update": dict(event), "attempt": attempt + 1})
    send_messages(get_settings().channel_status_queue_url, [message], delay_seconds=delay)
    return {"result": "retrying", "order_id": order_id, "attempt": attempt, "delay_seconds": delay}


def _park(order_id: str, event_id: str, kind: str, error: str) -> dict[str, Any]:
    finish_status_update(order_id, event_id, status="failed", outcome={"error": error[:500]})
    record_exception(
        order_id=order_id,
        step="ChannelStatus",
        error="ChannelStatusFailed",
        cause=f"telling {PLATFORM} about {kind} ({event_id}) failed: {error}",
        retry={"action": "none"},
    )
    return {"result": "failed", "order_id": order_id, "error": error}
