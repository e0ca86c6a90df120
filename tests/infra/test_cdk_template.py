"""The synthesized cloud stack matches the manifest, passes cdk-nag and cfn-lint."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from cfnlint.api import lint_file

from infra import manifest
from infra.cdk.app import STACK_NAME, build_app
from infra.cdk.functions import PLACEHOLDER_LAYERS_CONTEXT, Targets, build_function

pytestmark = pytest.mark.slow

Resources = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cdk.out")
    app, _ = build_app(str(path), extra_context={PLACEHOLDER_LAYERS_CONTEXT: True})
    app.synth()  # fails if cdk-nag finds anything not acknowledged
    return path


@pytest.fixture(scope="module")
def template_json(outdir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    return data


@pytest.fixture(scope="module")
def template(template_json: dict[str, Any]) -> Template:
    return Template.from_json(template_json)


@pytest.fixture(scope="module")
def resources(template_json: dict[str, Any]) -> Resources:
    resources: Resources = template_json["Resources"]
    return resources


def of_type(resources: Resources, type_: str) -> Resources:
    return {k: r for k, r in resources.items() if r["Type"] == type_}


def function_id(resources: Resources, spec: manifest.FunctionSpec) -> str:
    (logical_id,) = [
        k for k, r in of_type(resources, "AWS::Lambda::Function").items() if r["Properties"]["Handler"] == spec.handler
    ]
    return logical_id


def role_actions(resources: Resources, role_id: str) -> set[str]:
    actions: set[str] = set()
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found = statement["Action"]
                actions.update([found] if isinstance(found, str) else found)
    return actions


def test_table(template: Template, resources: Resources) -> None:
    spec = manifest.TABLE
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    (props,) = [r["Properties"] for r in of_type(resources, "AWS::DynamoDB::Table").values()]
    assert props["KeySchema"] == [
        {"AttributeName": spec.pk, "KeyType": "HASH"},
        {"AttributeName": spec.sk, "KeyType": "RANGE"},
    ]
    assert all(a["AttributeType"] == "S" for a in props["AttributeDefinitions"])
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    assert props["DeletionProtectionEnabled"] is True
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {i.name for i in spec.indexes}
    for index in spec.indexes:
        assert indexes[index.name]["KeySchema"] == [
            {"AttributeName": index.pk, "KeyType": "HASH"},
            {"AttributeName": index.sk, "KeyType": "RANGE"},
        ]
        assert indexes[index.name]["Projection"] == index.projection_description()
    # Keys only: an entry is rewritten only when its index key changes (docs/decisions.md).
    assert {i.projection for i in spec.indexes} == {"KEYS_ONLY"}


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=lambda s: s.name)
def test_function(resources: Resources, spec: manifest.FunctionSpec) -> None:
    props = resources[function_id(resources, spec)]["Properties"]
    assert props["Runtime"] in {"python3.12", "python3.13"}
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Timeout"] == spec.timeout_seconds
    assert props["MemorySize"] == spec.memory_mb
    assert props["LoggingConfig"]["LogGroup"]["Ref"] in of_type(resources, "AWS::Logs::LogGroup")
    layer, *dependencies = props["Layers"]
    assert len(dependencies) == len(spec.layers)
    assert "AWSLambdaPowertoolsPythonV3-${Build}-arm64" in layer["Fn::Sub"][0]
    assert layer["Fn::Sub"][1]["Build"] == props["Runtime"].replace(".", "")
    variables = props["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "OMS"
    assert set(variables) == {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
    } | manifest.environment_keys(spec) | set(manifest.cloud_environment(spec))


def manifest_functions(resources: Resources) -> Resources:
    """The manifest's functions: not CDK's own deployment function for the console's files."""
    handlers = {spec.handler for spec in manifest.FUNCTIONS}
    return {
        k: r for k, r in of_type(resources, "AWS::Lambda::Function").items() if r["Properties"]["Handler"] in handlers
    }


def test_every_function_has_its_own_role(template: Template, resources: Resources) -> None:
    template.resource_count_is("AWS::Lambda::Function", len(manifest.FUNCTIONS) + 1)
    roles = [r["Properties"]["Role"]["Fn::GetAtt"][0] for r in manifest_functions(resources).values()]
    assert len(roles) == len(set(roles)) == len(manifest.FUNCTIONS)
    for role_id in roles:
        assert "ManagedPolicyArns" not in resources[role_id]["Properties"]


# Each action and the grants that bring it.
ACTION_GRANTS = {
    "dynamodb:Query": {"table:read"},
    "dynamodb:PutItem": {"table:write"},
    "states:StartExecution": {"lifecycle:start", "returns:start"},
    "states:SendTaskSuccess": {"lifecycle:callback", "tasks:callback"},
    "states:GetExecutionHistory": {"lifecycle:read"},
    "events:PutEvents": {"events:put"},
    "secretsmanager:GetSecretValue": {"secrets:api-keys", "secrets:integrations"},
    "ses:SendEmail": {"ses:send"},
}


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=lambda s: s.name)
def test_role_follows_grants(resources: Resources, spec: manifest.FunctionSpec) -> None:
    role_id = resources[function_id(resources, spec)]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = role_actions(resources, role_id)
    for action, grants in ACTION_GRANTS.items():
        assert (action in actions) == bool(grants & set(spec.grants)), (action, grants)
    assert not [a for a in actions if a.endswith("*")]


def test_state_machine_tasks_never_get_the_lifecycle_arn(resources: Resources) -> None:
    for machine in manifest.STATE_MACHINES:
        for name in machine.substitutions.values():
            props = resources[function_id(resources, manifest.function(name))]["Properties"]
            assert "ORDER_LIFECYCLE_ARN" not in props["Environment"]["Variables"]


def test_a_state_machine_task_cannot_have_lifecycle_grants() -> None:
    stack = Stack(App(), "Cycle")
    key = dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    targets = Targets(
        table=dynamodb.Table(stack, "Table", partition_key=key),
        bus=events.EventBus(stack, "Bus"),
        api_keys=secretsmanager.Secret(stack, "Keys"),
        integrations=secretsmanager.Secret(stack, "Integrations"),
    )
    task = manifest.FunctionSpec(
        name="Task", handler="functions.x.handlers.y.handler", description="", grants=("lifecycle:start",)
    )
    layer = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Layer", "arn:aws:lambda:us-east-1:123456789012:layer:x:1"
    )
    with pytest.raises(ValueError, match="dependency cycle"):
        build_function(stack, task, code=lambda_.Code.from_inline("pass"), layer=layer, targets=targets)


def integration_targets(resources: Resources) -> dict[str, str]:
    """Logical id of each HTTP API integration -> the logical id of its function."""
    out = {}
    for lid, integration in of_type(resources, "AWS::ApiGatewayV2::Integration").items():
        props = integration["Properties"]
        assert props["IntegrationType"] == "AWS_PROXY"
        # 1.0: the REST proxy event the handlers parse (path, httpMethod, multiValueHeaders).
        assert props["PayloadFormatVersion"] == "1.0"
        out[lid] = props["IntegrationUri"]["Fn::GetAtt"][0]
    return out


def route_targets(resources: Resources) -> dict[str, dict[str, Any]]:
    """Route key -> (function logical id, route properties)."""
    (api_id,) = of_type(resources, "AWS::ApiGatewayV2::Api")
    targets = integration_targets(resources)
    out = {}
    for route in of_type(resources, "AWS::ApiGatewayV2::Route").values():
        props = route["Properties"]
        assert props["ApiId"] == {"Ref": api_id}
        (integration,) = [p["Ref"] for p in props["Target"]["Fn::Join"][1] if isinstance(p, dict)]
        out[props["RouteKey"]] = {"function": targets[integration], **props}
    return out


def test_the_api_is_an_http_api(resources: Resources) -> None:
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::ApiGateway::")]
    (api,) = of_type(resources, "AWS::ApiGatewayV2::Api").values()
    assert api["Properties"]["ProtocolType"] == "HTTP"


def test_routes(resources: Resources) -> None:
    routes = route_targets(resources)
    assert set(routes) == {f"{r.method} {r.path}" for r in manifest.ROUTES} | {"$default"}
    for route in manifest.ROUTES:
        props = routes[f"{route.method} {route.path}"]
        assert props["function"] == function_id(resources, manifest.function(route.function))
        # No gateway authorizer: the functions check keys (their denials are problems).
        assert props.get("AuthorizationType", "NONE") == "NONE"
        assert "AuthorizerId" not in props


def test_unknown_routes_go_to_a_function_that_answers_404(resources: Resources) -> None:
    default = route_targets(resources)["$default"]
    assert default["function"] == function_id(resources, manifest.function(manifest.DEFAULT_ROUTE_FUNCTION))


def api_invoke_permissions(resources: Resources) -> dict[str, set[str]]:
    """Function logical id -> the tails of the source ARNs the API may invoke it from."""
    (api_id,) = of_type(resources, "AWS::ApiGatewayV2::Api")
    out: dict[str, set[str]] = {}
    for permission in of_type(resources, "AWS::Lambda::Permission").values():
        props = permission["Properties"]
        parts = props.get("SourceArn", {}).get("Fn::Join", ["", []])[1]
        if props["Principal"] != "apigateway.amazonaws.com" or {"Ref": api_id} not in parts:
            continue
        tail = "".join(p for p in parts[parts.index({"Ref": api_id}) + 1 :] if isinstance(p, str))
        out.setdefault(props["FunctionName"]["Fn::GetAtt"][0], set()).add(tail)
    return out


def test_every_routed_function_may_be_invoked_by_the_api(resources: Resources) -> None:
    allowed = api_invoke_permissions(resources)
    for route in manifest.ROUTES:
        assert "/*/*/*" in allowed[function_id(resources, manifest.function(route.function))], route
    # The $default route's source ARN is <api>/<stage>/$default, outside /*/*/*.
    assert "/*/$default" in allowed[function_id(resources, manifest.function(manifest.DEFAULT_ROUTE_FUNCTION))]


def test_stage(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "AccessLogSettings": Match.object_like({"DestinationArn": Match.any_value(), "Format": Match.any_value()}),
            "DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": 500, "ThrottlingBurstLimit": 1000}),
        },
    )


def test_there_is_no_authorizer(resources: Resources) -> None:
    assert not of_type(resources, "AWS::ApiGatewayV2::Authorizer")
    assert not [s for s in manifest.FUNCTIONS if s.handler.endswith("authorizer.handler")]


@pytest.mark.parametrize("spec", manifest.QUEUES, ids=lambda s: s.name)
def test_queue(resources: Resources, spec: manifest.QueueSpec) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    (queue_id,) = [k for k in queues if re.fullmatch(spec.name + "[0-9A-F]{8}", k)]
    props = queues[queue_id]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["VisibilityTimeout"] == spec.visibility_timeout_seconds
    assert props["RedrivePolicy"]["maxReceiveCount"] == spec.max_receive_count
    dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    for logical_id in (queue_id, dlq_id):
        assert queues[logical_id]["Properties"]["SqsManagedSseEnabled"] is True
        (policy,) = [
            p["Properties"]["PolicyDocument"]
            for p in of_type(resources, "AWS::SQS::QueuePolicy").values()
            if p["Properties"]["Queues"] == [{"Ref": logical_id}]
        ]
        assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert policy["Statement"][0]["Effect"] == "Deny"
    (mapping,) = [
        r["Properties"]
        for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    assert mapping["FunctionName"] == {"Ref": function_id(resources, manifest.function(spec.consumer))}
    assert mapping["BatchSize"] == spec.batch_size
    assert mapping.get("MaximumBatchingWindowInSeconds", 0) == spec.max_batching_window_seconds
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_lifecycle_queues_gather_batches_for_a_second(resources: Resources) -> None:
    """Queues whose consumers a second's delay does not hurt gather batches (docs/capacity.md,
    cost at the target rate); imports arrive in bursts that fill batches without waiting."""
    queues = of_type(resources, "AWS::SQS::Queue")
    windows = {}
    for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values():
        source = r["Properties"]["EventSourceArn"].get("Fn::GetAtt", [""])[0]
        if source in queues:
            name = re.fullmatch(r"(.+?)[0-9A-F]{8}", source)
            assert name is not None
            windows[name.group(1)] = r["Properties"].get("MaximumBatchingWindowInSeconds", 0)
    assert windows == {
        "StockImport": 0,
        "CarrierEvents": 1,
        "CustomerNotifications": 1,
        "OrderImport": 0,
        "WebhookEvents": 1,
        "CommercetoolsMessages": 0,
        "ChannelStatus": 1,
    }


@pytest.mark.parametrize("spec", manifest.STREAM_CONSUMERS, ids=lambda s: s.function)
def test_stream_consumer(resources: Resources, spec: manifest.StreamConsumer) -> None:
    (table_id,) = of_type(resources, "AWS::DynamoDB::Table")
    target = function_id(resources, manifest.function(spec.function))
    (mapping,) = [
        r["Properties"]
        for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == {"Ref": target}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["StartingPosition"] == "LATEST"
    assert mapping["BatchSize"] == spec.batch_size
    assert mapping["MaximumRetryAttempts"] == spec.max_retry_attempts
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq_id = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert resources[dlq_id]["Type"] == "AWS::SQS::Queue"


@pytest.mark.parametrize("spec", manifest.STATE_MACHINES, ids=lambda s: s.name)
def test_state_machine(resources: Resources, spec: manifest.StateMachineSpec) -> None:
    (machine_id,) = [k for k in of_type(resources, "AWS::StepFunctions::StateMachine") if k.startswith(spec.name)]
    props = resources[machine_id]["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ERROR"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False

    definition = props["DefinitionString"]
    assert definition == spec.definition.read_text()
    substitutions = props["DefinitionSubstitutions"]
    assert set(re.findall(r"\$\{([^}]+)\}", definition)) == set(substitutions) == set(spec.substitutions)
    for placeholder, name in spec.substitutions.items():
        target = function_id(resources, manifest.function(name))
        assert substitutions[placeholder] == {"Fn::GetAtt": [target, "Arn"]}
        definition = definition.replace("${" + placeholder + "}", f"arn-of-{name}")
    assert "${" not in definition
    json.loads(definition)

    role_id = props["RoleArn"]["Fn::GetAtt"][0]
    invoked = [
        s["Resource"]
        for p in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "lambda:InvokeFunction"
    ]
    assert invoked == [list(substitutions.values())]


def test_event_bus_secret_and_outputs(template_json: dict[str, Any], resources: Resources) -> None:
    assert len(of_type(resources, "AWS::Events::EventBus")) == 1
    secrets = [
        json.loads(s["Properties"]["SecretString"]) for s in of_type(resources, "AWS::SecretsManager::Secret").values()
    ]
    # Placeholders only: operators write the real records; no secret is in the template.
    assert sorted(secrets, key=len) == [{"keys": []}, {"carriers": {}, "payments": {}}]
    assert {"ApiUrl", "TableName", "OrderLifecycleArn", "EventBusName"} <= set(template_json["Outputs"])


def test_asset_ships_only_code(outdir: Path) -> None:
    (asset,) = [p for p in outdir.glob("asset.*") if p.is_dir() and (p / "shared").exists()]
    shipped = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    assert {p.split("/")[0] for p in shipped} <= {"shared", "functions", "infra"}
    assert {p for p in shipped if p.startswith("infra/")} == {"infra/__init__.py", "infra/manifest.py"}
    assert not [p for p in shipped if "__pycache__" in p or p.endswith(".pyc")]


def test_nag_acknowledgments_carry_reasons(resources: Resources) -> None:
    acknowledged = [
        rule
        for r in resources.values()
        for rule in r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledged, "cdk-nag did not run"
    for rule in acknowledged:
        assert rule["id"].startswith("AwsSolutions-")
        assert len(rule["reason"]) >= 40, rule


def test_nag_fails_synthesis_on_unacknowledged_findings(tmp_path: Path) -> None:
    app, stack = build_app(str(tmp_path), extra_context={PLACEHOLDER_LAYERS_CONTEXT: True})
    sqs.Queue(stack, "Careless")  # no DLQ, no SSL enforcement
    with pytest.raises(RuntimeError, match=r"AwsSolutions-SQS4"):
        app.synth()


def test_cfn_lint_finds_no_errors(outdir: Path) -> None:
    findings = lint_file(outdir / f"{STACK_NAME}.template.json")
    errors = [str(f) for f in findings if f.rule.severity == "error"]
    assert not errors, "\n".join(errors)


def test_synthesis_refuses_missing_dependency_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.cdk import functions, layers

    monkeypatch.setattr(functions, "is_built", lambda name: False)
    monkeypatch.setattr(layers, "BUILD", tmp_path / "layers")
    with pytest.raises(Exception, match="make layers"):
        build_app(str(tmp_path / "out"))


def test_the_advance_step_carries_the_routing_and_payments_layers(template_json: dict[str, Any]) -> None:
    fns = {
        r["Properties"]["Handler"]: r
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert len(fns[manifest.function("AdvanceOrder").handler]["Properties"]["Layers"]) == 3
    assert len(fns[manifest.function("CaptureApi").handler]["Properties"]["Layers"]) == 1


def test_console_is_served_beside_the_api_on_one_origin(resources: Resources) -> None:
    (bucket,) = of_type(resources, "AWS::S3::Bucket").values()
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (distribution,) = of_type(resources, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    # Every path but the console's goes to the API's stage: the console calls it on its own origin.
    api_origin = origins[config["DefaultCacheBehavior"]["TargetOriginId"]]
    # The HTTP API's $default stage serves at its root: no origin path.
    assert not api_origin.get("OriginPath")
    (api_id,) = of_type(resources, "AWS::ApiGatewayV2::Api")
    assert api_id in json.dumps(api_origin["DomainName"]) and "ApiEndpoint" in json.dumps(api_origin["DomainName"])
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert "CustomOriginConfig" in api_origin
    assert set(config["DefaultCacheBehavior"]["AllowedMethods"]) >= {"GET", "POST", "PUT", "DELETE"}
    static = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(static) == {manifest.CONSOLE.path, manifest.CONSOLE.path + "/*"}
    for behavior in static.values():
        s3_origin = origins[behavior["TargetOriginId"]]
        assert "OriginAccessControlId" in s3_origin and "S3OriginConfig" in s3_origin
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    (deployment,) = of_type(resources, "Custom::CDKBucketDeployment").values()
    assert deployment["Properties"]["DestinationBucketKeyPrefix"] == manifest.CONSOLE.path.strip("/")
