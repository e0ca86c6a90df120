"""The cloud stack, built entirely from ``infra/manifest.py``."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, RemovalPolicy, SecretValue, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import manifest
from infra.cdk.api import build_api
from infra.cdk.console import build_console
from infra.cdk.functions import Targets, build_function, dependency_layers, function_code, powertools_layer
from infra.cdk.triggers import build_event_rule, build_queue, build_schedule, build_stream_consumer, subscribe
from infra.cdk.workflows import build_state_machine

# The state machine that the lifecycle:* grants and ORDER_LIFECYCLE_ARN refer to.
LIFECYCLE = "OrderLifecycle"
RETURN_LIFECYCLE = "ReturnLifecycle"


class OmsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.table = self._table()
        self.bus = events.EventBus(self, manifest.EVENT_BUS, description="OMS domain events")
        self.api_keys = self._api_keys()
        self.integrations = self._integration_secrets()

        code, layer, extra = function_code(), powertools_layer(self), dependency_layers(self)
        queues = {spec.name: build_queue(self, spec) for spec in manifest.QUEUES}
        targets = Targets(
            table=self.table, bus=self.bus, api_keys=self.api_keys, integrations=self.integrations, queues=queues
        )
        self.functions: dict[str, lambda_.Function] = {}

        def build(spec: manifest.FunctionSpec, targets: Targets) -> None:
            self.functions[spec.name] = build_function(
                self, spec, code=code, layer=layer, targets=targets, extra_layers=extra
            )

        # A state machine's tasks come first: the state machine needs their ARNs, so
        # they cannot have the state machine's ARN (Targets.lifecycle stays None).
        tasks = {name for sm in manifest.STATE_MACHINES for name in sm.substitutions.values()}
        for spec in manifest.FUNCTIONS:
            if spec.name in tasks:
                build(spec, targets)
        self.state_machines: dict[str, sfn.StateMachine] = {
            sm.name: build_state_machine(self, sm, dict(self.functions)) for sm in manifest.STATE_MACHINES
        }
        targets = replace(
            targets, lifecycle=self.state_machines[LIFECYCLE], returns=self.state_machines[RETURN_LIFECYCLE]
        )
        for spec in manifest.FUNCTIONS:
            if spec.name not in tasks:
                build(spec, targets)

        self.api = build_api(
            self,
            {route.function: self.functions[route.function] for route in manifest.ROUTES},
        )
        self.console = build_console(self, self.api)
        for queue in manifest.QUEUES:
            subscribe(queues[queue.name], queue, self.functions[queue.consumer])
        for rule in manifest.EVENT_RULES:
            build_event_rule(self, rule, self.bus, queues[rule.queue])
        for schedule in manifest.SCHEDULES:
            build_schedule(self, schedule, self.functions[schedule.function])
        for consumer in manifest.STREAM_CONSUMERS:
            build_stream_consumer(self, consumer, self.table, self.functions[consumer.function])
        self._outputs()

    def _table(self) -> dynamodb.Table:
        spec = manifest.TABLE
        string = dynamodb.AttributeType.STRING
        table = dynamodb.Table(
            self,
            spec.name,
            partition_key=dynamodb.Attribute(name=spec.pk, type=string),
            sort_key=dynamodb.Attribute(name=spec.sk, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType[spec.stream],
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(name=index.pk, type=string),
                sort_key=dynamodb.Attribute(name=index.sk, type=string),
                projection_type=dynamodb.ProjectionType[index.projection],
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        return table

    def _api_keys(self) -> secretsmanager.Secret:
        # Operators replace the content with the key records the API functions read:
        # {"keys": [{"key_sha256", "principal_id", "role", "channel"?, "locations"?}]},
        # only the SHA-256 of each key, never the key. CloudFormation writes this
        # placeholder once; it overwrites operators' records only if this value changes.
        secret = secretsmanager.Secret(
            self,
            manifest.API_KEYS_SECRET,
            description="OMS API keys: SHA-256 of each key with its principal and role",
            secret_string_value=SecretValue.unsafe_plain_text(json.dumps({"keys": []})),
        )
        Validations.of(secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="Holds hashes of API keys that callers present; a key is rotated by "
                "issuing a new one to its caller, which no rotation Lambda can do.",
            )
        )
        return secret

    def _integration_secrets(self) -> secretsmanager.Secret:
        # Operators write the carriers' and payment providers' secrets here:
        # {"carriers": {name: hmac_secret}, "payments": {provider: {"webhook_secret", "api_key"?}}}.
        secret = secretsmanager.Secret(
            self,
            manifest.INTEGRATION_SECRETS,
            description="OMS integrations: carrier webhook secrets, payment provider keys and webhook secrets",
            secret_string_value=SecretValue.unsafe_plain_text(json.dumps({"carriers": {}, "payments": {}})),
        )
        Validations.of(secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="Issued by the carriers and payment providers; they are rotated in the "
                "provider's dashboard and pasted here, which no rotation Lambda can do.",
            )
        )
        return secret

    def _outputs(self) -> None:
        CfnOutput(self, "ApiUrl", value=self.api.api_endpoint + "/")
        CfnOutput(self, "TableName", value=self.table.table_name)
        CfnOutput(self, "EventBusName", value=self.bus.event_bus_name)
        CfnOutput(self, "ApiKeysSecretArn", value=self.api_keys.secret_arn)
        for name, machine in self.state_machines.items():
            CfnOutput(self, f"{name}Arn", value=machine.state_machine_arn)
