"""The REST API: every manifest route, the API key authorizer, problem+json errors."""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.manifest import API_NAME, ROUTES

STAGE = "prod"
API_KEY_HEADER = "x-api-key"
AUTHORIZER_CACHE = Duration.minutes(5)
# Stage-wide defaults; the account limit (10,000 rps) is shared by every API.
THROTTLE_RATE = 500
THROTTLE_BURST = 1000

R = apigw.ResponseType
# Gateway response templates are not VTL, so a body cannot compute its status: every
# type API Gateway can return gets its own response, with the status the body states.
# DEFAULT_4XX/5XX then only catch types added to API Gateway later.
GATEWAY_RESPONSES: dict[str, tuple[apigw.ResponseType, int, str]] = {
    "Unauthorized": (R.UNAUTHORIZED, 401, "Unauthorized"),
    "AccessDenied": (R.ACCESS_DENIED, 403, "Forbidden"),
    "Throttled": (R.THROTTLED, 429, "Too many requests"),
    "QuotaExceeded": (R.QUOTA_EXCEEDED, 429, "Too many requests"),
    # An unknown path or method; REST APIs call it a missing token (403) by default.
    "MissingAuthenticationToken": (R.MISSING_AUTHENTICATION_TOKEN, 404, "Not found"),
    "ResourceNotFound": (R.RESOURCE_NOT_FOUND, 404, "Not found"),
    "BadRequestBody": (R.BAD_REQUEST_BODY, 400, "Malformed request"),
    "BadRequestParameters": (R.BAD_REQUEST_PARAMETERS, 400, "Malformed request"),
    "RequestTooLarge": (R.REQUEST_TOO_LARGE, 413, "Request too large"),
    "UnsupportedMediaType": (R.UNSUPPORTED_MEDIA_TYPE, 415, "Unsupported media type"),
    "InvalidApiKey": (R.INVALID_API_KEY, 403, "Forbidden"),
    "InvalidSignature": (R.INVALID_SIGNATURE, 403, "Forbidden"),
    "ExpiredToken": (R.EXPIRED_TOKEN, 403, "Forbidden"),
    "WafFiltered": (R.WAF_FILTERED, 403, "Forbidden"),
    "AuthorizerFailure": (R.AUTHORIZER_FAILURE, 500, "Internal error"),
    "AuthorizerConfigurationError": (R.AUTHORIZER_CONFIGURATION_ERROR, 500, "Internal error"),
    "ApiConfigurationError": (R.API_CONFIGURATION_ERROR, 500, "Internal error"),
    "IntegrationFailure": (R.INTEGRATION_FAILURE, 504, "Upstream failure"),
    "IntegrationTimeout": (R.INTEGRATION_TIMEOUT, 504, "Upstream timeout"),
    "Default4xx": (R.DEFAULT_4_XX, 400, "Bad request"),
    "Default5xx": (R.DEFAULT_5_XX, 500, "Internal error"),
}


def problem_template(status: int, title: str) -> str:
    """An RFC 9457 body; ``$context`` values are substituted by API Gateway."""
    head = json.dumps({"type": "about:blank", "title": title, "status": status})[:-1]
    # messageString is already a quoted JSON string.
    return head + ', "detail": $context.error.messageString, "request_id": "$context.requestId"}'


def build_api(
    scope: Construct,
    functions: dict[str, lambda_.IFunction],
    authorizer_function: lambda_.IFunction,
) -> apigw.RestApi:
    access_logs = logs.LogGroup(scope, "ApiAccessLogs", retention=logs.RetentionDays.ONE_MONTH)
    api = apigw.RestApi(
        scope,
        API_NAME,
        description="Order management API",
        endpoint_types=[apigw.EndpointType.REGIONAL],
        # Execution logs (ERROR) need the account-level API Gateway logging role.
        cloud_watch_role=True,
        deploy_options=apigw.StageOptions(
            stage_name=STAGE,
            tracing_enabled=True,
            access_log_destination=apigw.LogGroupLogDestination(access_logs),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
            logging_level=apigw.MethodLoggingLevel.ERROR,
            data_trace_enabled=False,
            metrics_enabled=True,
            throttling_rate_limit=THROTTLE_RATE,
            throttling_burst_limit=THROTTLE_BURST,
        ),
    )
    authorizer = apigw.RequestAuthorizer(
        scope,
        "ApiKeyAuthorizer",
        handler=authorizer_function,
        identity_sources=[apigw.IdentitySource.header(API_KEY_HEADER)],
        results_cache_ttl=AUTHORIZER_CACHE,
    )
    # One invoke permission per function for the whole API keeps the Lambda resource
    # policy small as routes are added.
    integrations = {
        name: apigw.LambdaIntegration(fn, scope_permission_to_method=False) for name, fn in functions.items()
    }
    for route in ROUTES:
        method = api.root.resource_for_path(route.path).add_method(
            route.method,
            integrations[route.function],
            authorizer=authorizer if route.authorized else None,
            authorization_type=(apigw.AuthorizationType.CUSTOM if route.authorized else apigw.AuthorizationType.NONE),
        )
        if not route.authorized:
            Validations.of(method).acknowledge(
                Acknowledgment(id="AwsSolutions-APIG4", reason=_public_reason(route.path))
            )
        Validations.of(method).acknowledge(
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason="Callers are machines (channels, warehouses, operators' tools) using "
                "API keys checked by the Lambda authorizer; there are no Cognito users.",
            )
        )
    for name, (response_type, status, title) in GATEWAY_RESPONSES.items():
        api.add_gateway_response(
            name,
            type=response_type,
            status_code=str(status),
            response_headers={"Content-Type": "'application/problem+json'"},
            templates={"application/json": problem_template(status, title)},
        )
    _acknowledge(api)
    return api


def _public_reason(path: str) -> str:
    if path.startswith("/v1/webhooks/"):
        return (
            "Webhook from a carrier or payment provider, which cannot send an API key: "
            "the handler verifies the sender's signature over the raw body."
        )
    return "Public by design: the API's own documentation (OpenAPI document, docs page)."


def _acknowledge(api: apigw.RestApi) -> None:
    Validations.of(api).acknowledge(
        Acknowledgment(
            id="AwsSolutions-APIG2",
            reason="Handlers validate every request with pydantic and answer RFC 9457 "
            "problem details; gateway validation would answer in another format.",
        ),
        Acknowledgment(
            id="AwsSolutions-APIG3",
            reason="No WAF web ACL in the base stack: callers are authenticated machines "
            "and stage throttling applies; operators associate a regional web ACL "
            "per deployment.",
        ),
    )
    Validations.of(api.node.find_child("CloudWatchRole")).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            reason="The account-level API Gateway logging role uses the AWS-managed policy "
            "that API Gateway documents for it; it grants only CloudWatch Logs writes.",
        )
    )
