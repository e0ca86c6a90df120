"""Outbound webhooks: subscriptions, and every domain event delivered to each subscriber.

A domain event reaches the WebhookEvents queue through the EventBridge rule; each subscription
that asked for its type gets one delivery record (``delivery_id`` from subscription + event,
so a redelivered event finds its record and a delivered one is not sent again). A failed
attempt puts the delivery back on the queue with a growing delay; after ``MAX_ATTEMPTS`` the
delivery is parked ``failed`` for an operator to list and replay.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from functions.channels.logic.delivery import deliver, resolve
from functions.channels.rules.destinations import ForbiddenDestination, check_destination
from functions.channels.rules.signatures import new_webhook_secret
from functions.channels.rules.webhooks import (
    MAX_ATTEMPTS,
    delivery_id,
    retry_delay,
    unknown_event_types,
    webhook_message,
)
from functions.channels.store import (
    claim_delivery,
    delete_subscription,
    get_delivery,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    park_delivery,
    put_subscription,
    record_attempt,
    reopen_delivery,
)
from shared.api.caller import Caller
from shared.errors import Conflict, InvalidInput, MalformedInput, NotFound
from shared.ids import new_id
from shared.observability import logger
from shared.queues import send_messages
from shared.settings import get_settings
from shared.table import Item

DELIVERY_STATUSES = ("pending", "delivered", "failed")


# --- subscriptions ------------------------------------------------------------------------------


def subscription_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """A subscription as the API shows it after creation: never its secret."""
    return {k: item[k] for k in ("subscription_id", "url", "events", "created_at", "created_by")}


def create_subscription(caller: Caller, url: str, events: list[str]) -> dict[str, Any]:
    caller.require("ops")
    unknown = unknown_event_types(events)
    if not events or unknown:
        raise InvalidInput(
            "events must name domain events subscribers may receive",
            errors=[{"field": "events", "message": f"unknown: {', '.join(unknown)}" if unknown else "empty"}],
        )
    try:
        check_destination(url, resolve(url), allow_loopback=get_settings().webhooks_allow_loopback)
    except ForbiddenDestination as err:
        raise InvalidInput(f"url: {err}", errors=[{"field": "url", "message": str(err)}]) from err
    secret = new_webhook_secret()
    item = put_subscription(new_id("whs"), url, sorted(set(events)), secret, caller.principal_id)
    # The secret is shown here once; afterwards only deliveries carry proof of it.
    return subscription_view(item) | {"secret": secret}


def _live_subscription(subscription_id: str) -> Item:
    item = get_subscription(subscription_id)
    if item is None or item.get("deleted_at"):
        raise NotFound(f"webhook subscription {subscription_id} not found")
    return item


def read_subscription(caller: Caller, subscription_id: str) -> dict[str, Any]:
    caller.require("ops")
    return subscription_view(_live_subscription(subscription_id))


def read_subscriptions(caller: Caller) -> dict[str, Any]:
    caller.require("ops")
    return {"subscriptions": [subscription_view(s) for s in list_subscriptions()]}


def remove_subscription(caller: Caller, subscription_id: str) -> None:
    caller.require("ops")
    if not delete_subscription(subscription_id):
        raise NotFound(f"webhook subscription {subscription_id} not found")


# --- deliveries ----------------------------------------------------------------------------------


def delivery_view(item: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("delivery_id", "subscription_id", "event_id", "event_type", "status", "attempts", "created_at")
    view = {k: item[k] for k in keys} | {"updated_at": item.get("updated_at")}
    return view | {"last_http_status": item.get("last_http_status"), "last_error": item.get("last_error")}


def _queue_retry(delivery: str, delay_seconds: int) -> None:
    body = json.dumps({"delivery_id": delivery})
    send_messages(get_settings().webhook_events_queue_url, [body], delay_seconds=delay_seconds)


def _attempt(delivery: Item, subscription: Item) -> str:
    """One attempt of a pending delivery; its status afterwards."""
    did = str(delivery["delivery_id"])
    attempt = deliver(subscription["url"], subscription["secret"], did, delivery["message"])
    if attempt.ok:
        record_attempt(did, status="delivered", http_status=attempt.status, error=None)
        return "delivered"
    attempts = int(delivery.get("attempts") or 0) + 1
    status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
    if record_attempt(did, status=status, http_status=attempt.status, error=attempt.error) is None:
        return "delivered"  # a concurrent attempt succeeded
    if status == "pending":
        # If queueing fails the message this attempt came from fails too and comes back.
        _queue_retry(did, retry_delay(attempts, get_settings().webhook_retry_base_seconds))
    logger.warning(
        "webhook delivery failed",
        extra={"delivery_id": did, "attempts": attempts, "status": status, "error": attempt.error},
    )
    return status


def _attempt_if_pending(delivery: Item) -> str:
    if delivery.get("status") != "pending":
        return str(delivery.get("status"))
    subscription = get_subscription(str(delivery["subscription_id"]))
    if subscription is None or subscription.get("deleted_at"):
        return "unsubscribed"
    return _attempt(delivery, subscription)


def dispatch_event(event: Mapping[str, Any], subscriptions: Iterable[Item]) -> dict[str, str]:
    """An EventBridge event to every subscriber of its type among ``subscriptions`` (the live
    ones, read once for a batch of events): delivery id -> status."""
    try:
        event_type = str(event["detail-type"])
        detail = event["detail"]
        event_id = str(detail.get("event_id") or event["id"])
    except (KeyError, TypeError, AttributeError) as err:
        raise MalformedInput("not an EventBridge event") from err
    message = webhook_message(event_type, str(detail.get("at") or event.get("time") or ""), detail)
    outcome: dict[str, str] = {}
    for subscription in subscriptions:
        if event_type not in subscription.get("events", ()):
            continue
        did = delivery_id(str(subscription["subscription_id"]), event_id)
        delivery = claim_delivery(did, str(subscription["subscription_id"]), event_id, event_type, message)
        outcome[did] = _attempt_if_pending(delivery)
    return outcome


def retry_delivery(did: str) -> str:
    delivery = get_delivery(did)
    if delivery is None:
        return "unknown"
    return _attempt_if_pending(delivery)


def failed_deliveries(caller: Caller, status: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    caller.require("ops")
    if status not in DELIVERY_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
    items, next_cursor = list_deliveries(status, limit=limit, cursor=cursor)
    return {"deliveries": [delivery_view(i) for i in items], "next_cursor": next_cursor}


def read_delivery(caller: Caller, did: str) -> dict[str, Any]:
    caller.require("ops")
    item = get_delivery(did)
    if item is None:
        raise NotFound(f"webhook delivery {did} not found")
    return delivery_view(item)


def replay_delivery(caller: Caller, did: str) -> dict[str, Any]:
    """A failed delivery tried again from its first attempt, through the queue."""
    caller.require("ops")
    reopened = reopen_delivery(did, caller.principal_id)
    if reopened is None:
        if get_delivery(did) is None:
            raise NotFound(f"webhook delivery {did} not found")
        raise Conflict("only a failed delivery can be replayed")
    try:
        _queue_retry(did, 0)
    except Exception:
        park_delivery(did)  # failed again, so the operator can replay it once more
        raise
    return delivery_view(reopened)
