"""The one helper that builds every Lambda function of the manifest.

A function's IAM role and environment both come from its manifest grants, so a function
can only reach what its grants name, and always knows where that is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

from aws_cdk import Acknowledgment, ArnFormat, CfnElement, Duration, Fn, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.cdk.layers import is_built, layer_dir, placeholder
from infra.manifest import (
    GRANT_ENVIRONMENT,
    LAYERS,
    QUEUE_GRANTS,
    ROOT,
    FunctionSpec,
    cloud_environment,
    environment_keys,
)

RUNTIME = lambda_.Runtime.PYTHON_3_12
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
METRICS_NAMESPACE = "OMS"
POWERTOOLS_LAYER_CONTEXT = "powertoolsLayerVersion"
# AWS publishes the layer from its own account, one build per runtime (python312, ...);
# the version pins the Powertools release and is the same number for every build.
POWERTOOLS_LAYER_ARN = (
    "arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-${Build}-arm64:${Version}"
)

# Only the code the handlers import is shipped: everything is excluded, then the
# packages they use are let back in. A new top-level folder stays out by default.
ASSET_EXCLUDE = [
    "*",
    ".*",
    "!shared",
    "!shared/**",
    "!functions",
    "!functions/**",
    # The manifest is plain data that handlers may read (e.g. the route list).
    "!infra",
    "!infra/__init__.py",
    "!infra/manifest.py",
    "**/__pycache__",
    "**/*.pyc",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.ruff_cache",
    "**/.hypothesis",
]


@dataclass(frozen=True)
class Targets:
    """The resources a function's grants point at."""

    table: dynamodb.ITable
    bus: events.IEventBus
    api_keys: secretsmanager.ISecret
    integrations: secretsmanager.ISecret
    # None while the state machines' own tasks are built: they cannot reference them.
    lifecycle: sfn.IStateMachine | None = None
    returns: sfn.IStateMachine | None = None
    # The manifest's queues by name, for functions that send to them.
    queues: Mapping[str, sqs.IQueue] = field(default_factory=dict)

    def order_lifecycle(self) -> sfn.IStateMachine:
        if self.lifecycle is None:
            raise ValueError(
                "a lifecycle grant on a function that a state machine invokes would make "
                "a CloudFormation dependency cycle"
            )
        return self.lifecycle

    def return_lifecycle(self) -> sfn.IStateMachine:
        if self.returns is None:
            raise ValueError("a returns grant on a state machine task would make a dependency cycle")
        return self.returns


def _task_callbacks(_: Targets, grantee: iam.IGrantable) -> object:
    # Task tokens name no state machine, and a task of a state machine cannot reference
    # it (cycle); SendTask* accept "*" as their resource.
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
        resource_arns=["*"],
    )


def _send_email(_: Targets, grantee: iam.IGrantable) -> object:
    # Identities are verified per account and region by operators; SES scopes by identity ARN.
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["ses:SendEmail"],
        resource_arns=[
            Stack.of(cast(Construct, grantee)).format_arn(service="ses", resource="identity", resource_name="*")
        ],
    )


def _read_lifecycle(t: Targets, grantee: iam.IGrantable) -> object:
    """The OrderLifecycle's definition, and the status and history of its executions."""
    # The stack passes the StateMachine it built (the interface has no name).
    machine = cast(sfn.StateMachine, t.order_lifecycle())
    iam.Grant.add_to_principal(
        grantee=grantee, actions=["states:DescribeStateMachine"], resource_arns=[machine.state_machine_arn]
    )
    executions = Stack.of(cast(Construct, grantee)).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{machine.state_machine_name}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["states:DescribeExecution", "states:GetExecutionHistory"],
        resource_arns=[executions],
    )


def _send_to(queue: str) -> Callable[[Targets, iam.IGrantable], object]:
    return lambda t, g: t.queues[queue].grant_send_messages(g)


def _queue_url(queue: str) -> Callable[[Targets], str]:
    return lambda t: t.queues[queue].queue_url


GRANTS: dict[str, Callable[[Targets, iam.IGrantable], object]] = {
    "table:read": lambda t, g: t.table.grant_read_data(g),
    "table:write": lambda t, g: t.table.grant_write_data(g),
    "lifecycle:start": lambda t, g: t.order_lifecycle().grant_start_execution(g),
    # SendTaskSuccess/Failure/Heartbeat, scoped to the state machine.
    "lifecycle:callback": lambda t, g: t.order_lifecycle().grant_task_response(g),
    "lifecycle:read": _read_lifecycle,
    "events:put": lambda t, g: t.bus.grant_put_events_to(g),
    "secrets:api-keys": lambda t, g: t.api_keys.grant_read(g),
    "secrets:integrations": lambda t, g: t.integrations.grant_read(g),
    "returns:start": lambda t, g: t.return_lifecycle().grant_start_execution(g),
    "tasks:callback": _task_callbacks,
    "ses:send": _send_email,
    # Outbound HTTPS to subscribers needs no IAM permission; the grant brings the cloud settings.
    "webhooks:send": lambda t, g: None,
    **{grant: _send_to(queue) for grant, queue in QUEUE_GRANTS.items()},
}

ENVIRONMENT: dict[str, Callable[[Targets], str]] = {
    "TABLE_NAME": lambda t: t.table.table_name,
    "ORDER_LIFECYCLE_ARN": lambda t: t.order_lifecycle().state_machine_arn,
    "EVENT_BUS_NAME": lambda t: t.bus.event_bus_name,
    "API_KEYS_SECRET_ID": lambda t: t.api_keys.secret_arn,
    "INTEGRATION_SECRETS_ID": lambda t: t.integrations.secret_arn,
    "RETURN_LIFECYCLE_ARN": lambda t: t.return_lifecycle().state_machine_arn,
    **{GRANT_ENVIRONMENT[grant]: _queue_url(queue) for grant, queue in QUEUE_GRANTS.items()},
}


def function_code() -> lambda_.Code:
    """One asset for all functions: a plain directory, so no Docker bundling."""
    return lambda_.Code.from_asset(str(ROOT), exclude=ASSET_EXCLUDE)


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    version = scope.node.try_get_context(POWERTOOLS_LAYER_CONTEXT)
    if version is None:
        raise ValueError(f"context value {POWERTOOLS_LAYER_CONTEXT!r} is missing (cdk.json)")
    build = RUNTIME.name.replace(".", "")
    arn = Fn.sub(POWERTOOLS_LAYER_ARN, {"Build": build, "Version": str(version)})
    return lambda_.LayerVersion.from_layer_version_arn(scope, "PowertoolsLayer", arn)


PLACEHOLDER_LAYERS_CONTEXT = "placeholderLayers"


def dependency_layers(scope: Construct) -> dict[str, lambda_.ILayerVersion]:
    """One layer per manifest LAYERS entry, from ``make layers``' output."""
    layers: dict[str, lambda_.ILayerVersion] = {}
    for name in LAYERS:
        path = layer_dir(name)
        if not is_built(name):
            if not scope.node.try_get_context(PLACEHOLDER_LAYERS_CONTEXT):
                raise ValueError(f"layer {name!r} is not built: run `make layers`")
            path = placeholder(name)
        layers[name] = lambda_.LayerVersion(
            scope,
            f"{name.capitalize()}Layer",
            code=lambda_.Code.from_asset(str(path)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description=f"Dependencies: {', '.join(LAYERS[name])}",
        )
    return layers


def service_name(spec: FunctionSpec) -> str:
    """The lifecycle domain (``functions.<domain>.handlers...``): metrics group by it."""
    return spec.handler.split(".")[1]


def build_function(
    scope: Construct,
    spec: FunctionSpec,
    *,
    code: lambda_.Code,
    layer: lambda_.ILayerVersion,
    targets: Targets,
    extra_layers: dict[str, lambda_.ILayerVersion] | None = None,
) -> lambda_.Function:
    if targets.lifecycle is None and any(grant.startswith(("lifecycle:", "returns:")) for grant in spec.grants):
        raise ValueError(f"{spec.name} is a state machine task: a lifecycle grant would make a dependency cycle")
    role = iam.Role(
        scope,
        f"{spec.name}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{spec.name}: {', '.join(spec.grants) or 'no grants'}",
    )
    log_group = logs.LogGroup(scope, f"{spec.name}Logs", retention=LOG_RETENTION)
    # Written by hand: the managed basic-execution policy would allow every log group.
    log_group.grant_write(role)

    environment = {
        "POWERTOOLS_SERVICE_NAME": service_name(spec),
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
    for key in sorted(environment_keys(spec)):
        environment[key] = ENVIRONMENT[key](targets)
    environment.update(cloud_environment(spec))

    fn = lambda_.Function(
        scope,
        spec.name,
        description=spec.description,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler=spec.handler,
        code=code,
        layers=[layer, *((extra_layers or {})[name] for name in spec.layers)],
        timeout=Duration.seconds(spec.timeout_seconds),
        memory_size=spec.memory_mb,
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        role=role,
        environment=environment,
    )
    for grant in spec.grants:
        if grant not in GRANTS:
            raise KeyError(f"{spec.name}: unknown grant {grant!r}")
        GRANTS[grant](targets, fn)

    if any(grant.startswith("table:") for grant in spec.grants):
        _acknowledge_index_wildcard(role, targets.table)
    Validations.of(fn).acknowledge(
        Acknowledgment(
            id="AwsSolutions-L1",
            reason="The runtime is pinned with the Powertools layer version in cdk.json "
            "(the layer build follows the runtime); both move in one reviewed change, not "
            "with each CDK release's idea of the latest runtime.",
        )
    )
    wildcard_reason = (
        "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions."
    )
    if "tasks:callback" in spec.grants:
        wildcard_reason += " Task tokens: SendTaskSuccess/Failure/Heartbeat take a token, not a state machine."
    Validations.of(role).acknowledge(Acknowledgment(id="AwsSolutions-IAM5[Resource::*]", reason=wildcard_reason))
    if "lifecycle:read" in spec.grants:
        machine = targets.order_lifecycle()
        machine_id = Stack.of(machine).get_logical_id(cast(CfnElement, machine.node.default_child))
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                f"execution:<{machine_id}.Name>:*]",
                reason="An order's workflow graph reads the history of that order's execution: "
                "executions are named by order id, so reads are scoped to the OrderLifecycle's executions.",
            )
        )
    if "ses:send" in spec.grants:
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*]",
                reason="Customer messages go to any customer's address: SES checks the recipient "
                "identity too, so sending is scoped to this account and region's identities.",
            )
        )
    return fn


def _acknowledge_index_wildcard(role: iam.IRole, table: dynamodb.ITable) -> None:
    table_id = Stack.of(table).get_logical_id(cast(CfnElement, table.node.default_child))
    Validations.of(role).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
            reason="The table's own GSIs (gsi1..n): queries by index need the index ARNs, "
            "which CDK grants as <table ARN>/index/*; no other table is reachable.",
        )
    )
