"""Configuration, read from the environment once per cold start and validated."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from shared.warm_cache import WarmCache


class Settings(BaseModel):
    table_name: str = Field(default="oms-Table", min_length=3)
    order_lifecycle_arn: str = ""
    return_lifecycle_arn: str = ""
    event_bus_name: str = "oms-Events"
    api_keys_secret_id: str = "oms-ApiKeys"
    # Seconds an idempotency record is kept (Idempotency-Key replays inside it).
    idempotency_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    max_order_lines: int = Field(default=2000, gt=0)
    # How long a warm function keeps an operator's configuration (routing and change policies).
    operator_config_cache_seconds: float = Field(default=60, ge=0)
    # How far ahead of our clock a sender's time (a stock count's as_of, a carrier scan) may be.
    max_clock_skew_seconds: int = Field(default=300, ge=0)
    # Where POST /v1/inventory/imports queues the rows (the StockImport queue).
    stock_import_queue_url: str = ""
    # Where POST /v1/orders/imports queues the orders (the OrderImport queue).
    order_import_queue_url: str = ""
    # Where carrier events are buffered (the CarrierEvents queue).
    carrier_events_queue_url: str = ""
    # The JSON secret of carrier and payment provider credentials (shared/integration_secrets.py).
    integration_secrets_id: str = "oms-IntegrationSecrets"
    # "ses" in the cloud; "outbox" keeps customer messages in the table (the local stack).
    notifications_transport: str = Field(default="outbox", pattern="^(ses|outbox)$")
    notifications_sender: str = "orders@example.com"
    # The local stack also delivers outbound webhooks to http://127.0.0.1 receivers; the cloud
    # stack sets false (infra/manifest.py CLOUD_ENVIRONMENT): only https URLs on public addresses.
    webhooks_allow_loopback: bool = True
    # Where outbound webhook deliveries wait and come back for retries (the WebhookEvents queue).
    webhook_events_queue_url: str = ""
    # First retry delay of a failed delivery, doubled per attempt. 0 on the local stack, whose
    # queue triggers fire on each new message and would never see a delayed one.
    webhook_retry_base_seconds: int = Field(default=0, ge=0)
    # Where order status updates for sales platforms wait and come back for retries (ChannelStatus).
    channel_status_queue_url: str = ""
    # First retry delay of a failed status update, doubled per attempt (0 locally, as above).
    channel_status_retry_base_seconds: int = Field(default=0, ge=0)

    @classmethod
    def from_env(cls) -> Settings:
        fields = {name: os.environ[name.upper()] for name in cls.model_fields if name.upper() in os.environ}
        return cls.model_validate(fields)


_settings = WarmCache("settings", lambda _: Settings.from_env())


def get_settings() -> Settings:
    return _settings.get()
