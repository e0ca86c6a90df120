"""The HTTP API: every manifest route as a Lambda proxy integration, unknown routes to ``$default``.

The functions check each request's API key themselves (shared.api.authentication): an
HTTP API authorizer's denials would be ``{"message": ...}`` bodies, not the API's RFC 9457
problems, and an HTTP API cannot rewrite its own error bodies (docs/decisions.md, HTTP
API, keys checked in the functions).
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Fn, Stack, Validations
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.manifest import API_NAME, DEFAULT_ROUTE_FUNCTION, ROUTES, Route

# The $default stage serves at the API's root: with a named stage, payload 1.0 events
# would carry the stage in ``path`` and every resolver would have to strip it.
STAGE = "$default"
# The REST proxy event the handlers parse (path, httpMethod, multiValueHeaders, ...).
PAYLOAD_VERSION = apigw.PayloadFormatVersion.VERSION_1_0
# Stage-wide; the account limit (10,000 rps) is shared by every API.
THROTTLE_RATE = 500
THROTTLE_BURST = 1000

# One JSON line per request ($context variables of HTTP APIs).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "errorMessage": "$context.error.message",
}


def build_api(scope: Construct, functions: dict[str, lambda_.IFunction]) -> apigw.HttpApi:
    # One integration, and one invoke permission for the whole API, per function: the
    # Lambda resource policy stays small as routes are added.
    by_function = {
        name: integrations.HttpLambdaIntegration(
            f"{name}Integration", fn, payload_format_version=PAYLOAD_VERSION, scope_permission_to_route=False
        )
        for name, fn in functions.items()
        if any(r.function == name for r in ROUTES) or name == DEFAULT_ROUTE_FUNCTION
    }
    api = apigw.HttpApi(
        scope,
        API_NAME,
        description="Order management API",
        create_default_stage=False,
        # An unknown path or method: the function answers 404 as a problem.
        default_integration=by_function[DEFAULT_ROUTE_FUNCTION],
    )
    # The permission CDK adds per function allows ``<api>/*/*/*`` (stage, method, path):
    # the $default route's source ARN is ``<api>/<stage>/$default``, which that misses.
    functions[DEFAULT_ROUTE_FUNCTION].add_permission(
        "ApiDefaultRouteInvoke",
        principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
        source_arn=Stack.of(scope).format_arn(service="execute-api", resource=api.api_id, resource_name="*/$default"),
    )
    for route in ROUTES:
        apigw.HttpRoute(
            scope,
            _route_id(route),
            http_api=api,
            route_key=apigw.HttpRouteKey.with_(route.path, apigw.HttpMethod(route.method)),
            integration=by_function[route.function],
        )
    access_logs = logs.LogGroup(scope, "ApiAccessLogs", retention=logs.RetentionDays.ONE_MONTH)
    stage = apigw.HttpStage(
        scope,
        "ApiStage",
        http_api=api,
        stage_name=STAGE,
        auto_deploy=True,
        throttle=apigw.ThrottleSettings(rate_limit=THROTTLE_RATE, burst_limit=THROTTLE_BURST),
    )
    cfn_stage = stage.node.default_child
    assert isinstance(cfn_stage, apigw.CfnStage)
    cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
        destination_arn=access_logs.log_group_arn, format=json.dumps(ACCESS_LOG_FORMAT)
    )
    _acknowledge(scope, api)
    return api


def _route_id(route: Route) -> str:
    """The route's construct id: its method and path without the characters ids cannot hold."""
    return f"Route{route.method}{route.path}".replace("/", "_").replace("{", "").replace("}", "")


def api_domain(api: apigw.HttpApi) -> str:
    """``<id>.execute-api.<region>.amazonaws.com``, the host of ``api_endpoint``."""
    return Fn.select(2, Fn.split("/", api.api_endpoint))


def _route_reason(method: str, path: str, authorized: bool) -> str:
    if not authorized and path.startswith("/v1/webhooks/"):
        return (
            "Webhook from a carrier or payment provider, which cannot send an API key: "
            "the handler verifies the sender's signature over the raw body."
        )
    if not authorized:
        return "Public by design: the API's own documentation (OpenAPI document, docs page)."
    return (
        f"{method} {path}: the function checks the caller's x-api-key against the API keys "
        "secret before routing and answers 401 problem+json without a valid one; an HTTP API "
        "authorizer could only deny with a non-problem body."
    )


def _acknowledge(scope: Construct, api: apigw.HttpApi) -> None:
    Validations.of(api.node.find_child("DefaultRoute")).acknowledge(
        Acknowledgment(
            id="AwsSolutions-APIG4",
            reason=f"$default: {DEFAULT_ROUTE_FUNCTION} answers a path or method no route takes "
            "with a 404 problem; should the request match one of its own authorized routes "
            "(a trailing slash), its resolver checks the x-api-key first.",
        )
    )
    for route in ROUTES:
        Validations.of(scope.node.find_child(_route_id(route))).acknowledge(
            Acknowledgment(id="AwsSolutions-APIG4", reason=_route_reason(route.method, route.path, route.authorized)),
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason="Callers are machines (channels, warehouses, operators' tools) using API "
                "keys checked by the functions; there are no Cognito users.",
            ),
        )
