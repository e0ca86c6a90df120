"""Create the stack declared in ``infra/manifest.py`` in moto, with plain boto3 calls.

Works against a moto server endpoint and inside ``moto.mock_aws`` alike. Nothing is
listed here by hand: every table, queue, function, trigger and state machine comes from
the manifest, named ``LOCAL_PREFIX + name``. The conventions the CDK app applies to
every trigger are mirrored: each queue has a DLQ (``<Queue>Dlq``) and reports batch item
failures; each stream consumer starts at LATEST, bisects failing batches, reports item
failures and sends spent batches to ``<Function>StreamDlq``. ``tests/infra/test_parity.py``
keeps the two in step.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra import manifest as default_manifest
from infra.local import dev_credentials
from infra.local.runtime import ACCOUNT_ID

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
ROLE_NAME = "oms-local-execution"
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass
class QueueResources:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass
class LocalResources:
    region: str
    account_id: str
    table_name: str
    stream_arn: str
    event_bus_name: str
    api_keys_secret_id: str
    role_arn: str
    integration_secrets_id: str = ""
    functions: dict[str, str] = field(default_factory=dict)  # name -> ARN
    queues: dict[str, QueueResources] = field(default_factory=dict)
    stream_dlqs: dict[str, tuple[str, str]] = field(default_factory=dict)  # function -> (url, ARN)
    state_machines: dict[str, str] = field(default_factory=dict)  # name -> ARN
    event_source_mappings: list[str] = field(default_factory=list)  # UUIDs

    def environment(self) -> dict[str, str]:
        """Every value a grant can bring, for handlers running in this process."""
        env = {
            "TABLE_NAME": self.table_name,
            "EVENT_BUS_NAME": self.event_bus_name,
            "API_KEYS_SECRET_ID": self.api_keys_secret_id,
            "INTEGRATION_SECRETS_ID": self.integration_secrets_id,
        }
        for name, arn in self.state_machines.items():
            env[state_machine_env_key(name)] = arn
        for name, queue in self.queues.items():
            env[queue_env_key(name)] = queue.url
        return env


def local_name(name: str, m: Any = default_manifest) -> str:
    return f"{m.LOCAL_PREFIX}{name}"


def dlq_name(queue: str, m: Any = default_manifest) -> str:
    return f"{m.LOCAL_PREFIX}{queue}Dlq"


def stream_dlq_name(function: str, m: Any = default_manifest) -> str:
    """Where a stream consumer's batches go once retries and bisection are spent."""
    return f"{m.LOCAL_PREFIX}{function}StreamDlq"


def state_machine_env_key(name: str) -> str:
    """``OrderLifecycle`` -> ``ORDER_LIFECYCLE_ARN`` (the key its grants bring)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper() + "_ARN"


def queue_env_key(name: str) -> str:
    """``StockImport`` -> ``STOCK_IMPORT_QUEUE_URL`` (the key a ``queue:`` grant brings)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper() + "_QUEUE_URL"


def render_definition(spec: Any, function_arns: dict[str, str]) -> str:
    """The ASL text with each ``${Placeholder}`` replaced by its function's ARN."""
    text = spec.definition.read_text()
    values = {key: function_arns[fn] for key, fn in spec.substitutions.items()}

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(f"{spec.name}: no substitution for ${{{match.group(1)}}}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(substitute, text)


def dummy_zip() -> bytes:
    """Code is never run from the package (the adapter imports the handler)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Local stack: handlers run in process.\n")
    return buffer.getvalue()


def clients(endpoint_url: str | None, region: str) -> dict[str, Any]:
    services = ("dynamodb", "events", "secretsmanager", "iam", "lambda", "sqs", "stepfunctions")
    return {s: boto3.client(s, endpoint_url=endpoint_url, region_name=region) for s in services}


def provision(
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    *,
    aws: dict[str, Any] | None = None,
    m: Any = default_manifest,
) -> LocalResources:
    """Create every resource of manifest ``m``; ``aws`` overrides the boto3 clients."""
    c = aws or clients(endpoint_url, region)
    stream_arn = _table(c["dynamodb"], m)
    res = LocalResources(
        region=region,
        account_id=ACCOUNT_ID,
        table_name=local_name(m.TABLE.name, m),
        stream_arn=stream_arn,
        event_bus_name=local_name(m.EVENT_BUS, m),
        api_keys_secret_id=local_name(m.API_KEYS_SECRET, m),
        role_arn=_role(c["iam"]),
    )
    c["events"].create_event_bus(Name=res.event_bus_name)
    _secrets(c["secretsmanager"], res, m)

    # Queues come before the functions that send to them; their triggers come after.
    for queue in m.QUEUES:
        res.queues[queue.name] = _queue(c["sqs"], queue, m)
    # Functions get the state machine ARNs before the machines exist (ARNs are names).
    for sm in m.STATE_MACHINES:
        res.state_machines[sm.name] = f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{local_name(sm.name, m)}"
    env_values = res.environment()
    missing = set(m.GRANT_ENVIRONMENT.values()) - env_values.keys()
    if missing:
        raise KeyError(f"the local stack cannot resolve environment {sorted(missing)}")

    code = dummy_zip()
    for spec in m.FUNCTIONS:
        env = {key: env_values[key] for key in sorted(m.environment_keys(spec))}
        res.functions[spec.name] = c["lambda"].create_function(
            FunctionName=local_name(spec.name, m),
            Runtime=RUNTIME,
            Architectures=[ARCHITECTURE],
            Role=res.role_arn,
            Handler=spec.handler,
            Code={"ZipFile": code},
            Description=spec.description,
            Timeout=spec.timeout_seconds,
            MemorySize=spec.memory_mb,
            Environment={"Variables": env},
        )["FunctionArn"]

    for queue in m.QUEUES:
        q = res.queues[queue.name]
        res.event_source_mappings.append(
            c["lambda"].create_event_source_mapping(
                EventSourceArn=q.arn,
                FunctionName=res.functions[queue.consumer],
                BatchSize=queue.batch_size,
                # Kept for parity: moto records the window but the local pollers do not wait.
                **({"MaximumBatchingWindowInSeconds": w} if (w := queue.max_batching_window_seconds) else {}),
                FunctionResponseTypes=["ReportBatchItemFailures"],
            )["UUID"]
        )

    for consumer in m.STREAM_CONSUMERS:
        dlq = _dlq(c["sqs"], stream_dlq_name(consumer.function, m))
        res.stream_dlqs[consumer.function] = dlq
        res.event_source_mappings.append(
            c["lambda"].create_event_source_mapping(
                EventSourceArn=stream_arn,
                FunctionName=res.functions[consumer.function],
                BatchSize=consumer.batch_size,
                MaximumRetryAttempts=consumer.max_retry_attempts,
                StartingPosition="LATEST",
                BisectBatchOnFunctionError=True,
                FunctionResponseTypes=["ReportBatchItemFailures"],
                DestinationConfig={"OnFailure": {"Destination": dlq[1]}},
                FilterCriteria={"Filters": [{"Pattern": json.dumps(consumer.filter_pattern())}]},
            )["UUID"]
        )

    for rule in m.EVENT_RULES:
        _event_rule(c["events"], res, rule, m)
    # Schedules are declared as in the cloud; moto never fires them: infra/local/schedules.py does.
    for schedule in getattr(m, "SCHEDULES", ()):
        name = local_name(schedule.name, m)
        c["events"].put_rule(Name=name, ScheduleExpression=schedule.expression, State="ENABLED")
        c["events"].put_targets(Rule=name, Targets=[{"Id": schedule.function, "Arn": res.functions[schedule.function]}])

    for sm in m.STATE_MACHINES:
        arn = c["stepfunctions"].create_state_machine(
            name=local_name(sm.name, m),
            definition=render_definition(sm, res.functions),
            roleArn=res.role_arn,
            type="STANDARD",
        )["stateMachineArn"]
        if arn != res.state_machines[sm.name]:
            raise RuntimeError(f"{sm.name}: expected {res.state_machines[sm.name]}, got {arn}")
    return res


def _table(ddb: Any, m: Any) -> str:
    t = m.TABLE
    keys = [t.pk, t.sk] + [k for ix in t.indexes for k in (ix.pk, ix.sk)]
    name = local_name(t.name, m)
    desc = ddb.create_table(
        TableName=name,
        KeySchema=_key_schema(t.pk, t.sk),
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in dict.fromkeys(keys)],
        GlobalSecondaryIndexes=[
            {
                "IndexName": ix.name,
                "KeySchema": _key_schema(ix.pk, ix.sk),
                "Projection": ix.projection_description(),
            }
            for ix in t.indexes
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": t.stream},
    )["TableDescription"]
    ddb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": t.ttl_attribute},
    )
    return str(desc["LatestStreamArn"])


def _key_schema(pk: str, sk: str) -> list[dict[str, str]]:
    return [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}]


def _role(iam: Any) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return str(iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


def _secrets(sm: Any, res: LocalResources, m: Any) -> None:
    sm.create_secret(Name=res.api_keys_secret_id, SecretString=dev_credentials.api_keys_secret_string())
    res.integration_secrets_id = local_name(m.INTEGRATION_SECRETS, m)
    sm.create_secret(Name=res.integration_secrets_id, SecretString=dev_credentials.integration_secrets_string())


def _event_rule(events: Any, res: LocalResources, rule: Any, m: Any) -> None:
    name = local_name(rule.name, m)
    events.put_rule(
        Name=name,
        EventBusName=res.event_bus_name,
        EventPattern=json.dumps({"detail-type": list(rule.detail_types)}),
        State="ENABLED",
    )
    events.put_targets(
        Rule=name, EventBusName=res.event_bus_name, Targets=[{"Id": rule.queue, "Arn": res.queues[rule.queue].arn}]
    )


def _dlq(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)})[
        "QueueUrl"
    ]
    return url, _queue_arn(sqs, url)


def _queue(sqs: Any, spec: Any, m: Any) -> QueueResources:
    dlq_url, dlq_arn = _dlq(sqs, dlq_name(spec.name, m))
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}
    url = sqs.create_queue(
        QueueName=local_name(spec.name, m),
        Attributes={
            "VisibilityTimeout": str(spec.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return QueueResources(url=url, arn=_queue_arn(sqs, url), dlq_url=dlq_url, dlq_arn=dlq_arn)


def _queue_arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])
