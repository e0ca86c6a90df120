"""The synthesized CloudFormation template and the running local stack are the same stack.

Every table, queue, function, event source mapping, state machine and API route of the
template has its local counterpart with the same wiring, and the counts match. Template
resources are matched to local ones by their construct name (the logical id less CDK's
8-character hash) and by what they reference (Ref / Fn::GetAtt), never by position.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from infra import manifest
from infra.local import http_api, provision
from infra.local.stack import LocalStack

pytestmark = pytest.mark.slow  # synthesizing the CDK app takes about ten seconds

# Functions the CDK app adds that have no local counterpart: construct name -> reason.
# None today: log groups are explicit LogGroup resources (no LogRetention helper) and the
# stack uses no custom resources. A new helper must be listed here with its reason.
CLOUD_ONLY_FUNCTIONS: dict[str, str] = {
    # CDK's function that copies the console's files into their bucket at deploy time; the
    # local stack serves the same files from the folder itself.
    "CustomCDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C": "console files deployment",
}

# Environment variables the CDK helper gives every function beyond its grants. Locally
# all handlers share one process environment, which sets POWERTOOLS_SERVICE_NAME once
# and disables metrics, so per-function values would be metadata no handler reads.
CLOUD_ONLY_ENVIRONMENT = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}

SQS_DEFAULT_VISIBILITY_TIMEOUT = 30
SQS_DEFAULT_RETENTION = 4 * 24 * 3600


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from infra.cdk.synth import synth_template

    result: dict[str, Any] = synth_template()
    return result


@pytest.fixture(scope="module")
def local() -> Iterator[LocalStack]:
    with LocalStack(moto_port=0, api_port=0) as stack:
        yield stack


def of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == type_}


def construct_name(logical_id: str) -> str:
    match = re.fullmatch(r"(.+?)[0-9A-F]{8}", logical_id)
    assert match, f"{logical_id} is not <construct name><8-hex hash>"
    return match.group(1)


def target(ref: Any) -> str:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points at."""
    if isinstance(ref, dict) and "Ref" in ref:
        return str(ref["Ref"])
    if isinstance(ref, dict) and "Fn::GetAtt" in ref:
        return str(ref["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference: {ref!r}")


def references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if "Ref" in value or "Fn::GetAtt" in value:
            yield target(value)
        for v in value.values():
            yield from references(v)
    elif isinstance(value, list):
        for v in value:
            yield from references(v)


class Mapping:
    """Template logical ids -> local names and ARNs."""

    def __init__(self, template: dict[str, Any], local: LocalStack):
        assert local.resources is not None
        self.res = local.resources
        handlers = {spec.handler: spec.name for spec in manifest.FUNCTIONS}
        self.functions: dict[str, str] = {}  # logical id -> manifest function name
        self.cloud_only: set[str] = set()
        for lid, fn in of_type(template, "AWS::Lambda::Function").items():
            name = construct_name(lid)
            if name in CLOUD_ONLY_FUNCTIONS:
                self.cloud_only.add(lid)
                continue
            handler = fn["Properties"].get("Handler")
            assert handler in handlers, f"{lid}: handler {handler!r} is in no manifest function"
            assert handlers[handler] == name, f"{lid} runs {handler}, which is {handlers[handler]}'s"
            self.functions[lid] = name
        self.queues = {lid: construct_name(lid) for lid in of_type(template, "AWS::SQS::Queue")}
        (self.table,) = of_type(template, "AWS::DynamoDB::Table")
        sqs = local.client("sqs")
        self.queue_arns = {}
        for url in sqs.list_queues(QueueNamePrefix=manifest.LOCAL_PREFIX).get("QueueUrls", []):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.queue_arns[url.rsplit("/", 1)[1]] = attrs

    def function_arn(self, ref: Any) -> str:
        return self.res.functions[self.functions[target(ref)]]

    def arn(self, ref: Any) -> str:
        """The local ARN of what a template reference points at."""
        lid = target(ref)
        if lid in self.functions:
            return self.res.functions[self.functions[lid]]
        if lid in self.queues:
            return str(self.queue_arns[manifest.LOCAL_PREFIX + self.queues[lid]]["QueueArn"])
        if lid == self.table and ref["Fn::GetAtt"][1] == "StreamArn":
            return self.res.stream_arn
        raise AssertionError(f"no local counterpart for {ref!r}")


@pytest.fixture(scope="module")
def mapping(template: dict[str, Any], local: LocalStack) -> Mapping:
    return Mapping(template, local)


def test_resource_counts_match(template: dict[str, Any], local: LocalStack, mapping: Mapping) -> None:
    counts = Counter(r["Type"] for r in template["Resources"].values())
    lam, sqs = local.client("lambda"), local.client("sqs")
    buses = local.client("events").list_event_buses()["EventBuses"]
    found = {
        "AWS::DynamoDB::Table": len(local.client("dynamodb").list_tables()["TableNames"]),
        "AWS::SQS::Queue": len(sqs.list_queues().get("QueueUrls", [])),
        "AWS::Lambda::Function": len(lam.list_functions()["Functions"]) + len(mapping.cloud_only),
        "AWS::Lambda::EventSourceMapping": len(lam.list_event_source_mappings()["EventSourceMappings"]),
        "AWS::StepFunctions::StateMachine": len(local.client("stepfunctions").list_state_machines()["stateMachines"]),
        "AWS::Events::EventBus": len([b for b in buses if b["Name"] != "default"]),
        # Domain-event rules on the domain bus, schedules on the default bus.
        "AWS::Events::Rule": len(
            local.client("events").list_rules(EventBusName=local.resources.event_bus_name)["Rules"]
        )
        + len(local.client("events").list_rules()["Rules"])
        if local.resources
        else 0,
    }
    assert found == {type_: counts[type_] for type_ in found}


def test_table(template: dict[str, Any], local: LocalStack, mapping: Mapping) -> None:
    cloud = template["Resources"][mapping.table]["Properties"]
    ddb = local.client("dynamodb")
    table = ddb.describe_table(TableName=mapping.res.table_name)["Table"]
    assert table["KeySchema"] == cloud["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(cloud["AttributeDefinitions"], key=str)

    def indexes(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {ix["IndexName"]: (ix["KeySchema"], ix["Projection"]) for ix in items}

    assert indexes(table.get("GlobalSecondaryIndexes", [])) == indexes(cloud.get("GlobalSecondaryIndexes", []))
    assert indexes(table.get("LocalSecondaryIndexes", [])) == indexes(cloud.get("LocalSecondaryIndexes", []))
    assert table["StreamSpecification"]["StreamViewType"] == cloud["StreamSpecification"]["StreamViewType"]
    assert table["BillingModeSummary"]["BillingMode"] == cloud["BillingMode"]
    ttl = ddb.describe_time_to_live(TableName=mapping.res.table_name)["TimeToLiveDescription"]
    assert cloud["TimeToLiveSpecification"] == {"AttributeName": ttl["AttributeName"], "Enabled": True}
    assert ttl["TimeToLiveStatus"] == "ENABLED"


def test_functions(template: dict[str, Any], local: LocalStack, mapping: Mapping) -> None:
    lam = local.client("lambda")
    assert sorted(mapping.functions.values()) == sorted(spec.name for spec in manifest.FUNCTIONS)
    for lid, name in mapping.functions.items():
        cloud = template["Resources"][lid]["Properties"]
        config = lam.get_function_configuration(FunctionName=mapping.res.functions[name])
        assert config["Handler"] == cloud["Handler"], name
        assert config["Runtime"] == cloud["Runtime"], name
        assert config["Architectures"] == cloud.get("Architectures", ["x86_64"]), name
        assert config["Timeout"] == cloud.get("Timeout", 3), name
        assert config["MemorySize"] == cloud.get("MemorySize", 128), name
        assert config["Description"] == cloud.get("Description", ""), name
        local_env = set(config.get("Environment", {}).get("Variables", {}))
        cloud_env = set(cloud.get("Environment", {}).get("Variables", {})) - CLOUD_ONLY_ENVIRONMENT
        cloud_env -= set(manifest.cloud_environment(manifest.function(name)))
        assert local_env == cloud_env, name


def test_queues_and_dead_letter_queues(template: dict[str, Any], mapping: Mapping) -> None:
    for lid, name in mapping.queues.items():
        cloud = template["Resources"][lid]["Properties"]
        attrs = mapping.queue_arns.get(manifest.LOCAL_PREFIX + name)
        assert attrs is not None, f"queue {name} is missing locally"
        assert int(attrs["VisibilityTimeout"]) == cloud.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT), name
        assert int(attrs["MessageRetentionPeriod"]) == cloud.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION), name
        cloud_redrive = cloud.get("RedrivePolicy")
        local_redrive = json.loads(attrs["RedrivePolicy"]) if "RedrivePolicy" in attrs else None
        if cloud_redrive is None:
            assert local_redrive is None, name
            continue
        assert local_redrive is not None, f"{name} has no DLQ locally"
        assert local_redrive["deadLetterTargetArn"] == mapping.arn(cloud_redrive["deadLetterTargetArn"]), name
        assert int(local_redrive["maxReceiveCount"]) == cloud_redrive["maxReceiveCount"], name


def test_every_manifest_queue_has_a_dlq(mapping: Mapping) -> None:
    for queue in manifest.QUEUES:
        attrs = mapping.queue_arns[manifest.LOCAL_PREFIX + queue.name]
        assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == queue.max_receive_count


def test_event_source_mappings(template: dict[str, Any], local: LocalStack, mapping: Mapping) -> None:
    local_esms = local.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    for lid, esm in of_type(template, "AWS::Lambda::EventSourceMapping").items():
        cloud = esm["Properties"]
        source, function = mapping.arn(cloud["EventSourceArn"]), mapping.function_arn(cloud["FunctionName"])
        matches = [e for e in local_esms if e["EventSourceArn"] == source and e["FunctionArn"] == function]
        assert len(matches) == 1, f"{lid}: {source} -> {function} is not wired locally"
        mine = matches[0]
        for key in (
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "MaximumRetryAttempts",
            "BisectBatchOnFunctionError",
            "StartingPosition",
        ):
            assert mine.get(key) == cloud.get(key), f"{lid}: {key}"
        assert sorted(mine.get("FunctionResponseTypes") or []) == sorted(cloud.get("FunctionResponseTypes") or [])
        on_failure = cloud.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        mine_failure = mine.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        assert mine_failure == (mapping.arn(on_failure) if on_failure else None), f"{lid}: on-failure destination"

        def patterns(criteria: dict[str, Any] | None) -> list[Any]:
            return [json.loads(f["Pattern"]) for f in (criteria or {}).get("Filters", [])]

        assert patterns(mine.get("FilterCriteria")) == patterns(cloud.get("FilterCriteria")), f"{lid}: filters"


def resolve_string(value: Any, mapping: Mapping) -> str:
    """A template string: plain, or Fn::Join of strings and function references."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(resolve_string(p, mapping) for p in parts)
    return mapping.arn(value)


def test_state_machines(template: dict[str, Any], local: LocalStack, mapping: Mapping) -> None:
    sfn = local.client("stepfunctions")
    machines = of_type(template, "AWS::StepFunctions::StateMachine")
    assert sorted(construct_name(lid) for lid in machines) == sorted(sm.name for sm in manifest.STATE_MACHINES)
    for lid, machine in machines.items():
        cloud = machine["Properties"]
        name = construct_name(lid)
        text = resolve_string(cloud["DefinitionString"], mapping)
        for placeholder, ref in cloud.get("DefinitionSubstitutions", {}).items():
            text = text.replace("${" + placeholder + "}", mapping.arn(ref))
        described = sfn.describe_state_machine(stateMachineArn=mapping.res.state_machines[name])
        assert json.loads(described["definition"]) == json.loads(text), name
        assert described["type"] == cloud.get("StateMachineType", "STANDARD"), name
        # The local stack renders the same file with the same substitutions.
        spec = next(sm for sm in manifest.STATE_MACHINES if sm.name == name)
        assert json.loads(provision.render_definition(spec, mapping.res.functions)) == json.loads(text)


def test_api_routes_and_default_route(template: dict[str, Any], mapping: Mapping) -> None:
    """The same route keys reach the same functions, in payload format 1.0, without a gateway
    authorizer (the functions check keys), and what no route takes goes to the same function."""
    assert not of_type(template, "AWS::ApiGatewayV2::Authorizer")
    integrations = {}
    for lid, integration in of_type(template, "AWS::ApiGatewayV2::Integration").items():
        p = integration["Properties"]
        assert p["IntegrationType"] == "AWS_PROXY" and p["PayloadFormatVersion"] == "1.0", lid
        (fn,) = {mapping.functions[r] for r in references(p["IntegrationUri"]) if r in mapping.functions}
        integrations[lid] = fn
    cloud_routes = set()
    for lid, route in of_type(template, "AWS::ApiGatewayV2::Route").items():
        p = route["Properties"]
        assert p.get("AuthorizationType", "NONE") == "NONE", lid
        (fn,) = {integrations[r] for r in references(p["Target"]) if r in integrations}
        cloud_routes.add((p["RouteKey"], fn))
    api = http_api.Api()
    local_routes = {(f"{r.method} {r.resource}", r.spec.name) for r in api.routes}
    assert api.default is not None
    local_routes.add((http_api.DEFAULT_ROUTE, api.default.spec.name))
    assert local_routes == cloud_routes
    stages = [s["Properties"]["StageName"] for s in of_type(template, "AWS::ApiGatewayV2::Stage").values()]
    assert stages == [http_api.STAGE]


def test_event_rules(template: dict[str, Any], local: LocalStack, mapping: Mapping) -> None:
    """Each rule matches the same detail types and delivers to the same queue in both stacks."""
    assert local.resources is not None
    events = local.client("events")
    bus = local.resources.event_bus_name
    local_rules = {r["Name"]: r for r in events.list_rules(EventBusName=bus)["Rules"]}
    cloud_rules = {k: r for k, r in of_type(template, "AWS::Events::Rule").items() if "EventPattern" in r["Properties"]}
    assert len(cloud_rules) == len(local_rules) == len(manifest.EVENT_RULES)
    for lid, rule in cloud_rules.items():
        name = manifest.LOCAL_PREFIX + construct_name(lid)
        assert name in local_rules, f"rule {name} is missing locally"
        pattern = json.loads(local_rules[name]["EventPattern"])
        assert sorted(pattern["detail-type"]) == sorted(rule["Properties"]["EventPattern"]["detail-type"])
        (cloud_target,) = rule["Properties"]["Targets"]
        (local_target,) = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        assert local_target["Arn"] == mapping.arn(cloud_target["Arn"])


def test_schedules(template: dict[str, Any], local: LocalStack, mapping: Mapping) -> None:
    """Each schedule has the same expression and invokes the same function in both stacks."""
    events = local.client("events")
    local_rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
    cloud_rules = {
        k: r for k, r in of_type(template, "AWS::Events::Rule").items() if "ScheduleExpression" in r["Properties"]
    }
    assert len(cloud_rules) == len(local_rules) == len(manifest.SCHEDULES)
    for lid, rule in cloud_rules.items():
        name = manifest.LOCAL_PREFIX + construct_name(lid)
        assert name in local_rules, f"schedule {name} is missing locally"
        assert local_rules[name]["ScheduleExpression"] == rule["Properties"]["ScheduleExpression"]
        (cloud_target,) = rule["Properties"]["Targets"]
        (local_target,) = events.list_targets_by_rule(Rule=name)["Targets"]
        assert local_target["Arn"] == mapping.arn(cloud_target["Arn"])
