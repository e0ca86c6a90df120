"""Step Functions state machines from their ASL files."""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.manifest import StateMachineSpec


def build_state_machine(
    scope: Construct, spec: StateMachineSpec, functions: dict[str, lambda_.IFunction]
) -> sfn.StateMachine:
    # Step Functions logs through CloudWatch vended logs; the /aws/vendedlogs/ prefix
    # keeps the account's log resource policy from growing with every state machine.
    log_group = logs.LogGroup(
        scope,
        f"{spec.name}Logs",
        log_group_name=f"/aws/vendedlogs/states/{Stack.of(scope).stack_name}-{spec.name}",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    tasks = {placeholder: functions[name] for placeholder, name in spec.substitutions.items()}
    machine = sfn.StateMachine(
        scope,
        spec.name,
        state_machine_type=sfn.StateMachineType.STANDARD,
        definition_body=sfn.DefinitionBody.from_string(spec.definition.read_text()),
        definition_substitutions={p: fn.function_arn for p, fn in tasks.items()},
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ERROR, include_execution_data=False),
        tracing_enabled=True,
    )
    # Only the unqualified ARNs the definition names (grant_invoke would add "<arn>:*").
    machine.add_to_role_policy(
        iam.PolicyStatement(
            actions=["lambda:InvokeFunction"],
            resources=list(dict.fromkeys(fn.function_arn for fn in tasks.values())),
        )
    )
    Validations.of(machine).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SF1",
            reason="ERROR level without execution data: a Standard workflow's execution "
            "history already records every event, and logging ALL costs per transition.",
        ),
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="CloudWatch Logs delivery (logs:CreateLogDelivery and friends) and X-Ray "
            "tracing actions support no resource-level permissions.",
        ),
    )
    return machine
