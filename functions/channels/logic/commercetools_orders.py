"""commercetools Messages in: ``OrderCreated`` captures the order, ``OrderStateChanged`` to
``Cancelled`` cancels it here. Messages come through the CommercetoolsMessages queue (a
commercetools Subscription with an SQS destination: IAM, not a signature, decides who may
send). A Message whose id was already handled changes nothing; an order that cannot be
captured is recorded ``refused`` with why on its receipt; a cancellation for an order
whose ``OrderCreated`` has not arrived yet is raised, so the queue brings it back later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from functions.capture.api import OrderRequest, capture_order
from functions.changes.api import CancelRequest, cancel_order
from functions.channels.rules.commercetools import map_order
from functions.channels.rules.shopify import UnmappableOrder
from functions.channels.store import claim_receipt, complete_receipt
from shared.api.caller import Caller
from shared.errors import Conflict, InvalidInput, NotFound, RetryableError
from shared.integration_secrets import channel_shop
from shared.observability import logger
from shared.order.record import DuplicateOrder, find_order_id

PLATFORM = "commercetools"
CANCELLED_ON_COMMERCETOOLS = "cancelled on commercetools"


def _caller(channel: str) -> Caller:
    return Caller(principal_id=f"{PLATFORM}-subscription", role="channel", channel=channel)


def _apply(message: Mapping[str, Any], project: Mapping[str, str]) -> dict[str, Any]:
    kind = message.get("type")
    if kind == "OrderCreated":
        order = message.get("order") or {}
        try:
            request = OrderRequest.model_validate(
                map_order(
                    order, channel=project["channel"], payment_provider=project.get("payment_provider", "sandbox")
                )
            )
        except (UnmappableOrder, ValidationError) as err:
            raise InvalidInput(f"the commercetools order cannot be captured: {err}") from err
        try:
            view = capture_order(request, _caller(project["channel"]))
        except DuplicateOrder as dup:
            return {"result": "exists", "order_id": dup.order_id}
        return {"result": "captured", "order_id": view.order_id, "total": view.totals.total}
    if kind == "OrderStateChanged" and message.get("orderState") == "Cancelled":
        resource = message.get("resource") or {}
        identifiers = message.get("resourceUserProvidedIdentifiers") or {}
        external = [str(x) for x in (identifiers.get("orderNumber"), resource.get("id")) if x]
        order_id = next((found for e in external if (found := find_order_id(project["channel"], e))), None)
        if order_id is None:
            raise RetryableError(f"commercetools order {external} is not here yet")  # OrderCreated may follow
        try:
            cancel_order(
                _caller(project["channel"]), order_id, CancelRequest(reason=CANCELLED_ON_COMMERCETOOLS), preview=False
            )
        except Conflict as err:
            return {"result": "not_cancelled", "order_id": order_id, "detail": err.detail}
        return {"result": "cancelled", "order_id": order_id}
    return {"result": "ignored", "type": kind}


def receive_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """One Subscription delivery (a ``MessageDeliveryPayload``)."""
    if payload.get("notificationType") != "Message":
        return {"result": "ignored", "notification": payload.get("notificationType")}
    project_key, message_id = str(payload.get("projectKey") or ""), str(payload.get("id") or "")
    try:
        project = channel_shop(PLATFORM, project_key)
    except NotFound:
        logger.warning("commercetools message of an unknown project", extra={"project": project_key})
        return {"result": "unknown_project", "project": project_key}
    if not message_id:
        return {"result": "ignored", "reason": "no message id"}
    earlier = claim_receipt(PLATFORM, project_key, message_id, str(payload.get("type")))
    if earlier is not None:
        return {**dict(earlier.get("outcome") or {}), "result": "duplicate"}
    try:
        outcome = _apply(payload, project)
    except InvalidInput as err:  # kept on the receipt: retrying cannot fix it
        outcome = {"result": "refused", "detail": err.detail}
    complete_receipt(PLATFORM, project_key, message_id, outcome)
    return outcome
