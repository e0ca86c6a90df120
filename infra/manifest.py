"""The one definition of the stack.

Both the CDK app (``infra/cdk``) and the local stack (``infra/local``) are built from
these declarations, so a table, queue, function, trigger, route or state machine cannot
exist in one and not the other. ``tests/infra/test_parity.py`` checks the synthesized
template against the running local stack.

Names here are logical names. The cloud stack lets CloudFormation choose physical names;
the local stack uses ``LOCAL_PREFIX + name``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The domain events webhook subscribers may receive: the channels domain names them once.
# And the events a sales platform hears about (status back to Shopify).
from functions.channels.rules.shopify_status import STATUS_EVENT_TYPES as CHANNEL_STATUS_EVENT_TYPES
from functions.channels.rules.webhooks import WEBHOOK_EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PREFIX = "oms-"


@dataclass(frozen=True)
class Index:
    """A global secondary index. ``projection`` is what each entry carries besides the keys:
    KEYS_ONLY (the table's and the index's keys), INCLUDE (those and ``non_key_attributes``)
    or ALL. DynamoDB rewrites an entry whenever its key or a projected attribute changes, so
    a narrow projection spares the write units of every other change of the item; readers
    get the items by key (``shared.table.Table.query`` on an index does)."""

    name: str
    pk: str
    sk: str
    projection: str = "KEYS_ONLY"
    non_key_attributes: tuple[str, ...] = ()

    def projection_description(self) -> dict[str, object]:
        """The ``Projection`` of the index as CreateTable and the table's description have it."""
        out: dict[str, object] = {"ProjectionType": self.projection}
        if self.non_key_attributes:
            out["NonKeyAttributes"] = list(self.non_key_attributes)
        return out


@dataclass(frozen=True)
class TableSpec:
    name: str
    pk: str = "pk"
    sk: str = "sk"
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str = "ttl"
    stream: str = "NEW_AND_OLD_IMAGES"


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function. ``handler`` is the dotted path of the entry point."""

    name: str
    handler: str
    description: str
    # What the function may do, each a grant the CDK app turns into IAM statements.
    # table:read, table:write, lifecycle:start, lifecycle:callback, events:put,
    # secrets:api-keys (every function with an authorized route reads the API keys),
    # lifecycle:read (the OrderLifecycle's definition and its executions' histories),
    # tasks:callback (SendTask* on any execution: tokens carry no state machine, and a
    # task of the state machine cannot name it without a dependency cycle),
    # secrets:integrations (carrier and payment provider secrets),
    # queue:<kebab name> (send to that queue, see QUEUE_GRANTS),
    # webhooks:send (outbound HTTP to subscribers: no IAM, the cloud's destination rules)
    grants: tuple[str, ...] = ()
    timeout_seconds: int = 10
    memory_mb: int = 512
    # Dependency layers beyond Powertools' (names of LAYERS), built by ``make layers``.
    layers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    # False for routes that authenticate themselves (webhooks) or are public docs. The
    # handlers check the API key of every other route (shared.api.authentication, whose
    # PUBLIC_ROUTES lists these).
    authorized: bool = True


@dataclass(frozen=True)
class QueueSpec:
    name: str
    consumer: str
    batch_size: int = 10
    max_receive_count: int = 3
    visibility_timeout_seconds: int = 60
    # MaximumBatchingWindowInSeconds: how long Lambda gathers messages before invoking with
    # less than a full batch. 0 invokes at the first message; a second fills batches at
    # moderate rates (fewer invocations and SQS requests) where that delay is harmless.
    max_batching_window_seconds: int = 0


@dataclass(frozen=True)
class StreamConsumer:
    function: str
    batch_size: int = 100
    max_retry_attempts: int = 3
    # Lambda event filtering: only these changes of items of these types reach the
    # function (a filtered-out record costs no invocation).
    event_names: tuple[str, ...] = ("INSERT", "MODIFY", "REMOVE")
    item_types: tuple[str, ...] = ()

    def filter_pattern(self) -> dict[str, object]:
        pattern: dict[str, object] = {"eventName": list(self.event_names)}
        if self.item_types:
            pattern["dynamodb"] = {"NewImage": {"type": {"S": list(self.item_types)}}}
        return pattern


@dataclass(frozen=True)
class StateMachineSpec:
    name: str
    definition: Path
    # ASL placeholder -> function name; each becomes ${Placeholder} = the function's ARN.
    substitutions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StaticSite:
    """Files served as they are under a path of the API's own domain (same origin as the API)."""

    path: str
    directory: Path
    index: str = "index.html"


# Lambda layers of third-party packages the Powertools layer lacks: name -> requirements
# (names only; the pinned versions are read from pyproject.toml).
LAYERS: dict[str, tuple[str, ...]] = {
    "routing": ("highspy", "numpy"),
    # cryptography: PayPal webhook signatures (docs/decisions.md, PayPal: no SDK, cryptography for webhooks).
    "payments": ("stripe", "cryptography"),
    # Demand forecasts (docs/decisions.md, Demand forecasting: size and cold start).
    "forecast": ("numpy",),
}

# Every index projects the keys only (docs/decisions.md, Index projections): order headers
# and fulfillment orders are rewritten several times per order without changing their
# index keys, which with ALL rewrote each ~2 KB item in every index each time.
TABLE = TableSpec(
    name="Table",
    indexes=(
        Index("gsi1", "gsi1pk", "gsi1sk"),
        Index("gsi2", "gsi2pk", "gsi2sk"),
        Index("gsi3", "gsi3pk", "gsi3sk"),
    ),
)

EVENT_BUS = "Events"
API_KEYS_SECRET = "ApiKeys"
# One JSON secret for the integrations: {"carriers": {name: hmac secret},
# "payments": {provider: {"webhook_secret", "api_key"?}}, "channels": {platform: {shop: {...}}}}.
INTEGRATION_SECRETS = "IntegrationSecrets"
API_NAME = "Api"

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="CaptureApi",
        handler="functions.capture.handlers.api.handler",
        description="Order capture and order queries (POST/GET /v1/orders...)",
        grants=("table:read", "table:write", "lifecycle:start", "secrets:api-keys"),
    ),
    FunctionSpec(
        name="AdvanceOrder",
        handler="functions.lifecycle.handlers.advance_order.handler",
        description="OrderLifecycle step: allocate, screen, authorize, release to fulfillment and wait on it, "
        "as far as it goes",
        # Screening may expire a hold whose action cancels (stock released, payment voided or
        # refunded, waiting executions resumed); authorizing calls the payment provider.
        grants=("table:read", "table:write", "secrets:integrations", "tasks:callback"),
        # The four steps' own limits added up (allocation 60 s, the others 30 s each): an
        # order of 2,000 lines allocates and releases in many transactions.
        timeout_seconds=150,
        memory_mb=1024,
        layers=("routing", "payments"),
    ),
    FunctionSpec(
        name="RegisterBackorder",
        handler="functions.allocate.handlers.register_backorder.handler",
        description="OrderLifecycle WaitForStock: park the order's task token until stock arrives",
        grants=("table:read", "table:write", "tasks:callback"),
    ),
    FunctionSpec(
        name="CancelBackorders",
        handler="functions.allocate.handlers.cancel_backorders.handler",
        description="OrderLifecycle step: cancel what stayed backordered past the configured time",
        grants=("table:read", "table:write"),
    ),
    FunctionSpec(
        name="ReleaseReservations",
        handler="functions.allocate.handlers.release_reservations.handler",
        description="OrderLifecycle compensation: release every reservation the order holds",
        grants=("table:read", "table:write"),
    ),
    FunctionSpec(
        name="StockArrivals",
        handler="functions.allocate.handlers.stock_arrivals.handler",
        description="Table stream -> resume orders waiting for the stock that arrived",
        grants=("table:read", "table:write", "lifecycle:callback"),
        timeout_seconds=30,
    ),
    FunctionSpec(
        name="AllocateApi",
        handler="functions.allocate.handlers.api.handler",
        description="Routing configuration (strategy, weights, channel rules, backorder policy)",
        grants=("table:read", "table:write", "secrets:api-keys"),
    ),
    FunctionSpec(
        name="InventoryApi",
        handler="functions.inventory.handlers.api.handler",
        description="Locations, stock, availability and stock imports (/v1/locations, /v1/inventory...)",
        grants=("table:read", "table:write", "queue:stock-import", "secrets:api-keys"),
        # A 10,000-row import is validated and queued within the request.
        timeout_seconds=29,
    ),
    FunctionSpec(
        name="InventoryImport",
        handler="functions.inventory.handlers.stock_import.handler",
        description="Bulk stock import from SQS, one chunk of rows per message",
        grants=("table:read", "table:write"),
        timeout_seconds=60,
    ),
    FunctionSpec(
        name="CaptureShipments",
        handler="functions.payments.handlers.capture_shipments.handler",
        description="OrderLifecycle step: capture and invoice each shipment of a fulfillment order",
        grants=("table:read", "table:write", "secrets:integrations"),
        timeout_seconds=30,
        layers=("payments",),
    ),
    FunctionSpec(
        name="PaymentWebhooks",
        handler="functions.payments.handlers.webhooks.handler",
        description="Payment provider events (POST /v1/webhooks/payments/{provider})",
        grants=("table:read", "table:write", "secrets:integrations", "events:put"),
        layers=("payments",),
    ),
    FunctionSpec(
        name="AwaitFulfillment",
        handler="functions.fulfill.handlers.await_fulfillment.handler",
        description="OrderLifecycle AwaitFulfillment: store the task token with the fulfillment order "
        "(waits after the first, which AdvanceOrder parks itself)",
        grants=("table:read", "table:write", "tasks:callback"),
    ),
    FunctionSpec(
        name="AwaitPickup",
        handler="functions.fulfill.handlers.await_pickup.handler",
        description="OrderLifecycle AwaitPickup: store the task token with the order waiting at the store",
        grants=("table:read", "table:write", "tasks:callback"),
    ),
    FunctionSpec(
        name="SettleFulfillmentOrder",
        handler="functions.lifecycle.handlers.settle_fulfillment_order.handler",
        description="OrderLifecycle step: capture and invoice a fulfillment order's shipments, then re-route, "
        "wait on or complete the order",
        grants=("table:read", "table:write", "secrets:integrations"),
        timeout_seconds=30,
        layers=("payments",),
    ),
    FunctionSpec(
        name="FulfillmentApi",
        handler="functions.fulfill.handlers.api.handler",
        description="Fulfillment orders for the WMS (/v1/fulfillment-orders...), store pickup, the pickup policy",
        # secrets:integrations: the key pickup codes are derived from.
        grants=("table:read", "table:write", "tasks:callback", "secrets:integrations", "secrets:api-keys"),
    ),
    FunctionSpec(
        name="CarrierWebhooks",
        handler="functions.fulfill.handlers.carrier_webhooks.handler",
        description="Carrier tracking webhooks: verify the signature, queue the event",
        grants=("secrets:integrations", "queue:carrier-events"),
        memory_mb=256,
    ),
    FunctionSpec(
        name="TrackingEvents",
        handler="functions.fulfill.handlers.tracking_events.handler",
        description="Carrier tracking events from SQS -> shipment and order delivery status",
        grants=("table:read", "table:write"),
        timeout_seconds=30,
    ),
    FunctionSpec(
        name="Notifications",
        handler="functions.notify.handlers.notifications.handler",
        description="Customer messages for domain events (SES in the cloud, an outbox locally)",
        # secrets:integrations: the pickup code of a ready pickup order is derived for its e-mail.
        grants=("table:read", "table:write", "ses:send", "secrets:integrations"),
        timeout_seconds=30,
    ),
    FunctionSpec(
        name="ChangesApi",
        handler="functions.changes.handlers.api.handler",
        description="Change orders, each with preview: cancel, appeasements, edits (/v1/orders/{id}/...)",
        grants=("table:read", "table:write", "secrets:integrations", "tasks:callback", "secrets:api-keys"),
        timeout_seconds=29,
        # routing: an edit allocates the new units of an order never released to a warehouse.
        layers=("payments", "routing"),
    ),
    FunctionSpec(
        name="CancelUncollectedPickup",
        handler="functions.changes.handlers.cancel_uncollected_pickup.handler",
        description="OrderLifecycle step: a pickup order not collected in time is cancelled, voided or refunded",
        grants=("table:read", "table:write", "secrets:integrations", "tasks:callback"),
        timeout_seconds=30,
        layers=("payments",),
    ),
    FunctionSpec(
        name="ReturnsApi",
        handler="functions.returns.handlers.api.handler",
        description="Returns and exchanges: authorize, receive, read (/v1/orders/{id}/returns, /v1/returns...)",
        grants=("table:read", "table:write", "lifecycle:start", "returns:start", "tasks:callback", "secrets:api-keys"),
        timeout_seconds=29,
    ),
    FunctionSpec(
        name="AwaitReturnReceipt",
        handler="functions.returns.handlers.await_receipt.handler",
        description="ReturnLifecycle AwaitReceipt: store the task token with the return until goods arrive",
        grants=("table:read", "table:write", "tasks:callback"),
    ),
    FunctionSpec(
        name="SettleReturn",
        handler="functions.returns.handlers.settle_return.handler",
        description="ReturnLifecycle step: refund what was received with a credit memo, close when done",
        grants=("table:read", "table:write", "secrets:integrations"),
        timeout_seconds=30,
        layers=("payments",),
    ),
    FunctionSpec(
        name="ChannelWebhooks",
        handler="functions.channels.handlers.shopify_webhooks.handler",
        description="Sales platform order webhooks (POST /v1/webhooks/channels/shopify): capture, cancel",
        # Capturing starts the lifecycle; cancelling releases stock and voids or refunds.
        grants=("table:read", "table:write", "lifecycle:start", "secrets:integrations", "tasks:callback"),
        timeout_seconds=29,
        layers=("payments",),
    ),
    FunctionSpec(
        name="OrderImportApi",
        handler="functions.channels.handlers.order_imports_api.handler",
        description="Bulk order files (POST /v1/orders/imports): read, queued in chunks; results per order",
        grants=("table:read", "table:write", "queue:order-import", "secrets:api-keys"),
        # A 10,000-order file is read and queued within the request.
        timeout_seconds=29,
    ),
    FunctionSpec(
        name="ImportOrders",
        handler="functions.channels.handlers.order_import.handler",
        description="Bulk order import from SQS, one chunk of orders per message, each captured on its own",
        grants=("table:read", "table:write", "lifecycle:start"),
        timeout_seconds=60,
    ),
    FunctionSpec(
        name="WebhooksApi",
        handler="functions.channels.handlers.webhooks_api.handler",
        description="Outbound webhook subscriptions and deliveries (/v1/webhooks/subscriptions, /deliveries)",
        grants=("table:read", "table:write", "queue:webhook-events", "webhooks:send", "secrets:api-keys"),
    ),
    FunctionSpec(
        name="WebhookDelivery",
        handler="functions.channels.handlers.webhook_delivery.handler",
        description="Domain events from SQS -> signed deliveries to each subscriber, retried with backoff",
        grants=("table:read", "table:write", "queue:webhook-events", "webhooks:send"),
        timeout_seconds=60,
        memory_mb=256,
    ),
    FunctionSpec(
        name="CommercetoolsOrders",
        handler="functions.channels.handlers.commercetools_messages.handler",
        description="commercetools Subscription messages from SQS (OrderCreated, OrderStateChanged): capture, cancel",
        # Capturing starts the lifecycle; cancelling releases stock and voids or refunds.
        grants=("table:read", "table:write", "lifecycle:start", "secrets:integrations", "tasks:callback"),
        timeout_seconds=60,
        layers=("payments",),
    ),
    FunctionSpec(
        name="ChannelStatusSync",
        handler="functions.channels.handlers.channel_status.handler",
        description="Shipments, cancellations and refunds of platform orders -> the platform's Admin API, retried",
        grants=("table:read", "table:write", "secrets:integrations", "queue:channel-status"),
        timeout_seconds=30,
        memory_mb=256,
    ),
    FunctionSpec(
        name="HoldsApi",
        handler="functions.holds.handlers.api.handler",
        description="Order holds: place, release, list; the hold policy (/v1/orders/{id}/holds..., /v1/config/holds)",
        # Releasing the last hold resumes the execution waiting on it.
        grants=("table:read", "table:write", "tasks:callback", "secrets:api-keys"),
    ),
    FunctionSpec(
        name="AwaitHoldRelease",
        handler="functions.holds.handlers.await_hold_release.handler",
        description="OrderLifecycle AwaitHoldRelease: park the task token until the order's last hold ends",
        grants=("table:read", "table:write", "tasks:callback"),
    ),
    FunctionSpec(
        name="RecordException",
        handler="functions.ops.handlers.record_exception.handler",
        description="OrderLifecycle catch-all: record a process exception",
        grants=("table:read", "table:write"),
    ),
    FunctionSpec(
        name="Projector",
        handler="functions.ops.handlers.projector.handler",
        description="Table stream -> domain events on EventBridge",
        grants=("events:put",),
        timeout_seconds=30,
    ),
    FunctionSpec(
        name="OpsApi",
        handler="functions.ops.handlers.api.handler",
        description="OpenAPI document, API docs, process exceptions, the caller, an order's workflow graph",
        # Retrying an exception starts a new OrderLifecycle execution; the workflow graph
        # reads the state machine and the order's execution history.
        grants=("table:read", "table:write", "lifecycle:start", "lifecycle:read", "secrets:api-keys"),
    ),
    FunctionSpec(
        name="ReadModels",
        handler="functions.customers.handlers.projection.handler",
        description="Table stream -> each changed order's facts, its customer's lifetime figures, demand per SKU",
        grants=("table:read", "table:write"),
        timeout_seconds=60,
    ),
    FunctionSpec(
        name="CustomersApi",
        handler="functions.customers.handlers.api.handler",
        description="Customers (profile, 360 view, erase) and search (/v1/customers..., /v1/search)",
        grants=("table:read", "table:write", "secrets:api-keys"),
        timeout_seconds=29,
    ),
    FunctionSpec(
        name="ReportsApi",
        handler="functions.reports.handlers.api.handler",
        description="Reports, CSV exports and demand forecasts (/v1/reports..., /v1/forecast)",
        grants=("table:read", "secrets:api-keys"),
        timeout_seconds=29,
        memory_mb=1024,
        layers=("forecast",),
    ),
    FunctionSpec(
        name="ForecastBatch",
        handler="functions.reports.handlers.forecast_batch.handler",
        description="Nightly schedule -> every SKU's demand forecast, stored for GET /v1/forecast",
        grants=("table:read", "table:write"),
        timeout_seconds=900,
        memory_mb=1024,
        layers=("forecast",),
    ),
)

ROUTES: tuple[Route, ...] = (
    Route("POST", "/v1/orders", "CaptureApi"),
    Route("GET", "/v1/orders", "CaptureApi"),
    Route("GET", "/v1/orders/{order_id}", "CaptureApi"),
    Route("GET", "/v1/orders/{order_id}/timeline", "CaptureApi"),
    Route("GET", "/v1/config/routing", "AllocateApi"),
    Route("PUT", "/v1/config/routing", "AllocateApi"),
    Route("PUT", "/v1/locations/{location_id}", "InventoryApi"),
    Route("GET", "/v1/locations", "InventoryApi"),
    Route("PUT", "/v1/inventory/{location_id}/{sku}", "InventoryApi"),
    Route("PUT", "/v1/inventory/{location_id}/{sku}/buckets", "InventoryApi"),
    Route("POST", "/v1/inventory/adjustments", "InventoryApi"),
    Route("POST", "/v1/inventory/imports", "InventoryApi"),
    Route("GET", "/v1/inventory/imports/{import_id}", "InventoryApi"),
    Route("GET", "/v1/availability", "InventoryApi"),
    Route("POST", "/v1/webhooks/payments/{provider}", "PaymentWebhooks", authorized=False),
    Route("GET", "/v1/fulfillment-orders", "FulfillmentApi"),
    Route("GET", "/v1/fulfillment-orders/{fo_id}", "FulfillmentApi"),
    Route("GET", "/v1/fulfillment-orders/{fo_id}/pick-list", "FulfillmentApi"),
    Route("POST", "/v1/fulfillment-orders/{fo_id}/accept", "FulfillmentApi"),
    Route("POST", "/v1/fulfillment-orders/{fo_id}/pick", "FulfillmentApi"),
    Route("POST", "/v1/fulfillment-orders/{fo_id}/pack", "FulfillmentApi"),
    Route("POST", "/v1/fulfillment-orders/{fo_id}/reject", "FulfillmentApi"),
    Route("POST", "/v1/fulfillment-orders/{fo_id}/ship", "FulfillmentApi"),
    Route("POST", "/v1/fulfillment-orders/{fo_id}/ready-for-pickup", "FulfillmentApi"),
    Route("POST", "/v1/fulfillment-orders/{fo_id}/picked-up", "FulfillmentApi"),
    Route("GET", "/v1/config/pickup", "FulfillmentApi"),
    Route("PUT", "/v1/config/pickup", "FulfillmentApi"),
    Route("POST", "/v1/webhooks/carriers/{carrier}", "CarrierWebhooks", authorized=False),
    Route("POST", "/v1/orders/{order_id}/cancel", "ChangesApi"),
    Route("POST", "/v1/orders/{order_id}/adjustments", "ChangesApi"),
    Route("POST", "/v1/orders/{order_id}/edits", "ChangesApi"),
    Route("POST", "/v1/orders/{order_id}/returns", "ReturnsApi"),
    Route("GET", "/v1/returns/{return_id}", "ReturnsApi"),
    Route("POST", "/v1/returns/{return_id}/receive", "ReturnsApi"),
    Route("PUT", "/v1/customers/{customer_id}", "CustomersApi"),
    Route("GET", "/v1/customers", "CustomersApi"),
    Route("GET", "/v1/customers/{customer_id}", "CustomersApi"),
    Route("POST", "/v1/customers/{customer_id}/erase", "CustomersApi"),
    Route("GET", "/v1/search", "CustomersApi"),
    Route("GET", "/v1/reports/summary", "ReportsApi"),
    Route("GET", "/v1/reports/daily", "ReportsApi"),
    Route("GET", "/v1/reports/export", "ReportsApi"),
    Route("GET", "/v1/forecast", "ReportsApi"),
    Route("POST", "/v1/webhooks/channels/shopify", "ChannelWebhooks", authorized=False),
    Route("POST", "/v1/orders/imports", "OrderImportApi"),
    Route("GET", "/v1/orders/imports/{import_id}", "OrderImportApi"),
    Route("POST", "/v1/webhooks/subscriptions", "WebhooksApi"),
    Route("GET", "/v1/webhooks/subscriptions", "WebhooksApi"),
    Route("GET", "/v1/webhooks/subscriptions/{subscription_id}", "WebhooksApi"),
    Route("DELETE", "/v1/webhooks/subscriptions/{subscription_id}", "WebhooksApi"),
    Route("GET", "/v1/webhooks/deliveries", "WebhooksApi"),
    Route("GET", "/v1/webhooks/deliveries/{delivery_id}", "WebhooksApi"),
    Route("POST", "/v1/webhooks/deliveries/{delivery_id}/replay", "WebhooksApi"),
    Route("POST", "/v1/orders/{order_id}/holds", "HoldsApi"),
    Route("GET", "/v1/orders/{order_id}/holds", "HoldsApi"),
    Route("POST", "/v1/orders/{order_id}/holds/{hold_id}/release", "HoldsApi"),
    Route("GET", "/v1/config/holds", "HoldsApi"),
    Route("PUT", "/v1/config/holds", "HoldsApi"),
    Route("GET", "/v1/openapi.json", "OpsApi", authorized=False),
    Route("GET", "/v1/docs", "OpsApi", authorized=False),
    Route("GET", "/v1/exceptions", "OpsApi"),
    Route("POST", "/v1/exceptions/{exc_id}/retry", "OpsApi"),
    Route("POST", "/v1/exceptions/{exc_id}/resolve", "OpsApi"),
    Route("GET", "/v1/me", "OpsApi"),
    Route("GET", "/v1/orders/{order_id}/workflow", "OpsApi"),
)

# Where the HTTP API sends a request no route takes (its ``$default`` route): a function
# whose resolver answers an unknown path or method with a 404 problem.
DEFAULT_ROUTE_FUNCTION = "OpsApi"

# The web console (docs/console.md): static files, no build step; it calls the API above.
CONSOLE = StaticSite(path="/console", directory=ROOT / "console")

QUEUES: tuple[QueueSpec, ...] = (
    # Visibility at 6x the consumer's timeout, as AWS advises for Lambda triggers.
    # 50 stock rows per message (functions/inventory/logic/imports.py).
    QueueSpec(name="StockImport", consumer="InventoryImport", batch_size=10, visibility_timeout_seconds=360),
    # Verified carrier events, buffered so a burst or a failing consumer loses nothing. A
    # carrier reports a scan seconds to minutes after it, and nothing waits on the event
    # synchronously (no task token): a second more is harmless.
    QueueSpec(
        name="CarrierEvents",
        consumer="TrackingEvents",
        batch_size=10,
        visibility_timeout_seconds=180,
        max_batching_window_seconds=1,
    ),
    # Customer-facing domain events, delivered by the EventBridge rule below (e-mail: a second is nothing).
    QueueSpec(
        name="CustomerNotifications",
        consumer="Notifications",
        batch_size=10,
        visibility_timeout_seconds=180,
        max_batching_window_seconds=1,
    ),
    # 50 imported orders per message (functions/channels/logic/order_imports.py).
    QueueSpec(name="OrderImport", consumer="ImportOrders", batch_size=10, visibility_timeout_seconds=360),
    # Domain events for webhook subscribers, and each failed delivery's next attempt (delayed).
    # Subscribers receive events asynchronously anyway: a second more is harmless.
    QueueSpec(
        name="WebhookEvents",
        consumer="WebhookDelivery",
        batch_size=10,
        visibility_timeout_seconds=360,
        max_batching_window_seconds=1,
    ),
    # A commercetools Subscription's Messages (its SQS destination; IAM decides who may send).
    QueueSpec(
        name="CommercetoolsMessages", consumer="CommercetoolsOrders", batch_size=10, visibility_timeout_seconds=360
    ),
    # Status updates to sales platforms, and each failed update's next attempt (delayed; a
    # second more is harmless).
    QueueSpec(
        name="ChannelStatus",
        consumer="ChannelStatusSync",
        batch_size=10,
        visibility_timeout_seconds=180,
        max_batching_window_seconds=1,
    ),
)


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule on the domain bus that sends matching events to a queue."""

    name: str
    detail_types: tuple[str, ...]
    queue: str


EVENT_RULES: tuple[EventRule, ...] = (
    EventRule(
        name="CustomerMessages",
        detail_types=(
            "order.confirmed",
            "shipment.shipped",
            "shipment.delivered",
            "shipment.delayed",
            "fulfillment.ready_for_pickup",
        ),
        queue="CustomerNotifications",
    ),
    EventRule(name="WebhookSubscriptions", detail_types=WEBHOOK_EVENT_TYPES, queue="WebhookEvents"),
    EventRule(name="ChannelStatusUpdates", detail_types=CHANNEL_STATUS_EVENT_TYPES, queue="ChannelStatus"),
)


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule (a rule on the default bus) that invokes a function."""

    name: str
    expression: str
    function: str


SCHEDULES: tuple[Schedule, ...] = (
    # Forecasts for the day, after the day before's demand is in (UTC).
    Schedule(name="NightlyForecasts", expression="cron(30 1 * * ? *)", function="ForecastBatch"),
)

STREAM_CONSUMERS: tuple[StreamConsumer, ...] = (
    # New timeline items become domain events.
    StreamConsumer(function="Projector", event_names=("INSERT",), item_types=("event",)),
    # Stock that grew may wake backorders.
    StreamConsumer(function="StockArrivals", event_names=("INSERT", "MODIFY"), item_types=("inventory",)),
    # Changes to what an order's facts are made of keep the read models (customers, reports, demand).
    StreamConsumer(
        function="ReadModels",
        event_names=("INSERT", "MODIFY"),
        # No payment items: the facts read none (a payment's totals are on the header, written with it).
        item_types=("order", "line", "allocation", "shipment", "change_order", "return"),
    ),
)

STATE_MACHINES: tuple[StateMachineSpec, ...] = (
    StateMachineSpec(
        name="OrderLifecycle",
        definition=ROOT / "infra" / "statemachines" / "order_lifecycle.asl.json",
        substitutions={
            "AdvanceOrderArn": "AdvanceOrder",
            "RegisterBackorderArn": "RegisterBackorder",
            "CancelBackordersArn": "CancelBackorders",
            "ReleaseReservationsArn": "ReleaseReservations",
            "RecordExceptionArn": "RecordException",
            "CaptureShipmentsArn": "CaptureShipments",
            "AwaitFulfillmentArn": "AwaitFulfillment",
            "AwaitPickupArn": "AwaitPickup",
            "CancelUncollectedPickupArn": "CancelUncollectedPickup",
            "SettleFulfillmentOrderArn": "SettleFulfillmentOrder",
            "AwaitHoldReleaseArn": "AwaitHoldRelease",
        },
    ),
    StateMachineSpec(
        name="ReturnLifecycle",
        definition=ROOT / "infra" / "statemachines" / "return_lifecycle.asl.json",
        substitutions={
            "AwaitReturnReceiptArn": "AwaitReturnReceipt",
            "SettleReturnArn": "SettleReturn",
        },
    ),
)

# The environment a grant brings: each stack resolves the values. A state machine task
# never gets ORDER_LIFECYCLE_ARN (that would be a dependency cycle in CloudFormation).
GRANT_ENVIRONMENT = {
    "table:read": "TABLE_NAME",
    "table:write": "TABLE_NAME",
    "lifecycle:start": "ORDER_LIFECYCLE_ARN",
    "lifecycle:callback": "ORDER_LIFECYCLE_ARN",
    "lifecycle:read": "ORDER_LIFECYCLE_ARN",
    "returns:start": "RETURN_LIFECYCLE_ARN",
    "events:put": "EVENT_BUS_NAME",
    "secrets:api-keys": "API_KEYS_SECRET_ID",
    "queue:stock-import": "STOCK_IMPORT_QUEUE_URL",
    "queue:carrier-events": "CARRIER_EVENTS_QUEUE_URL",
    "queue:webhook-events": "WEBHOOK_EVENTS_QUEUE_URL",
    "queue:order-import": "ORDER_IMPORT_QUEUE_URL",
    "queue:channel-status": "CHANNEL_STATUS_QUEUE_URL",
    "secrets:integrations": "INTEGRATION_SECRETS_ID",
}

# Values the cloud stack sets for a grant where the local stack keeps the default
# (customer messages go through SES in the cloud, into the table's outbox locally).
# Outbound webhooks go only to public https URLs, retried after 30 s, 60 s, ... (15 min at most).
CLOUD_ENVIRONMENT: dict[str, dict[str, str]] = {
    "ses:send": {"NOTIFICATIONS_TRANSPORT": "ses"},
    "webhooks:send": {"WEBHOOKS_ALLOW_LOOPBACK": "false", "WEBHOOK_RETRY_BASE_SECONDS": "30"},
    # Status updates to a sales platform retried after 30 s, 60 s, ... (15 min at most).
    "queue:channel-status": {"CHANNEL_STATUS_RETRY_BASE_SECONDS": "30"},
}

# Grants that bring no environment.
GRANTS_WITHOUT_ENVIRONMENT = frozenset({"tasks:callback", "ses:send", "webhooks:send"})

# Grants to send to a queue: grant -> the manifest queue it names.
QUEUE_GRANTS = {
    "queue:stock-import": "StockImport",
    "queue:carrier-events": "CarrierEvents",
    "queue:webhook-events": "WebhookEvents",
    "queue:order-import": "OrderImport",
    "queue:channel-status": "ChannelStatus",
}


def environment_keys(spec: FunctionSpec) -> set[str]:
    return {GRANT_ENVIRONMENT[g] for g in spec.grants if g not in GRANTS_WITHOUT_ENVIRONMENT}


def cloud_environment(spec: FunctionSpec) -> dict[str, str]:
    return {k: v for g in spec.grants for k, v in CLOUD_ENVIRONMENT.get(g, {}).items()}


def function(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)
