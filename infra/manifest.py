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

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PREFIX = "oms-"


@dataclass(frozen=True)
class Index:
    name: str
    pk: str
    sk: str


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
    # table:read, table:write, lifecycle:start, lifecycle:callback, events:put, secrets:api-keys
    grants: tuple[str, ...] = ()
    timeout_seconds: int = 10
    memory_mb: int = 512


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    # False for routes that authenticate themselves (webhooks) or are public docs.
    authorized: bool = True


@dataclass(frozen=True)
class QueueSpec:
    name: str
    consumer: str
    batch_size: int = 10
    max_receive_count: int = 3
    visibility_timeout_seconds: int = 60


@dataclass(frozen=True)
class StreamConsumer:
    function: str
    batch_size: int = 100
    max_retry_attempts: int = 3


@dataclass(frozen=True)
class StateMachineSpec:
    name: str
    definition: Path
    # ASL placeholder -> function name; each becomes ${Placeholder} = the function's ARN.
    substitutions: dict[str, str] = field(default_factory=dict)


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
API_NAME = "Api"

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="CaptureApi",
        handler="functions.capture.handlers.api.handler",
        description="Order capture and order queries (POST/GET /v1/orders...)",
        grants=("table:read", "table:write", "lifecycle:start"),
    ),
    FunctionSpec(
        name="CaptureImport",
        handler="functions.capture.handlers.bulk_import.handler",
        description="Bulk channel order import from SQS",
        grants=("table:read", "table:write", "lifecycle:start"),
        timeout_seconds=60,
    ),
    FunctionSpec(
        name="AcceptOrder",
        handler="functions.capture.handlers.accept_order.handler",
        description="OrderLifecycle step: the order is accepted for processing",
        grants=("table:read", "table:write"),
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
        description="OpenAPI document, API docs, process exceptions",
        # Retrying an exception starts a new OrderLifecycle execution.
        grants=("table:read", "table:write", "lifecycle:start"),
    ),
    FunctionSpec(
        name="Authorizer",
        handler="functions.ops.handlers.authorizer.handler",
        description="API key authorizer (keys from Secrets Manager)",
        grants=("secrets:api-keys",),
        memory_mb=256,
    ),
)

ROUTES: tuple[Route, ...] = (
    Route("POST", "/v1/orders", "CaptureApi"),
    Route("GET", "/v1/orders", "CaptureApi"),
    Route("GET", "/v1/orders/{order_id}", "CaptureApi"),
    Route("GET", "/v1/orders/{order_id}/timeline", "CaptureApi"),
    Route("GET", "/v1/openapi.json", "OpsApi", authorized=False),
    Route("GET", "/v1/docs", "OpsApi", authorized=False),
    Route("GET", "/v1/exceptions", "OpsApi"),
    Route("POST", "/v1/exceptions/{exc_id}/retry", "OpsApi"),
    Route("POST", "/v1/exceptions/{exc_id}/resolve", "OpsApi"),
)

AUTHORIZER_FUNCTION = "Authorizer"

QUEUES: tuple[QueueSpec, ...] = (
    # Visibility at 6x the consumer's timeout, as AWS advises for Lambda triggers.
    QueueSpec(name="ChannelImport", consumer="CaptureImport", batch_size=10, visibility_timeout_seconds=360),
)

STREAM_CONSUMERS: tuple[StreamConsumer, ...] = (StreamConsumer(function="Projector"),)

STATE_MACHINES: tuple[StateMachineSpec, ...] = (
    StateMachineSpec(
        name="OrderLifecycle",
        definition=ROOT / "infra" / "statemachines" / "order_lifecycle.asl.json",
        substitutions={
            "AcceptOrderArn": "AcceptOrder",
            "RecordExceptionArn": "RecordException",
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
    "events:put": "EVENT_BUS_NAME",
    "secrets:api-keys": "API_KEYS_SECRET_ID",
}


def environment_keys(spec: FunctionSpec) -> set[str]:
    return {GRANT_ENVIRONMENT[g] for g in spec.grants}


def function(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)
