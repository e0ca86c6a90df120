"""The web console in the cloud: its static files in a private bucket, served by a CloudFront
distribution that also fronts the API, so the console and the API share one origin (no CORS).

``/console`` and ``/console/*`` come from the bucket (origin access control); every other
path goes to the HTTP API's $default stage, uncached, with the caller's headers (``x-api-key``) and
query strings.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Acknowledgment, CfnElement, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.cdk.api import api_domain
from infra.manifest import CONSOLE

# The site's own path and its folder name, served as /console/index.html.
_PREFIX = CONSOLE.path.strip("/")
# A viewer request for the site's path, with or without the slash, gets its index.
_INDEX_REWRITE = f"""function handler(event) {{
  var request = event.request;
  if (request.uri === "/{_PREFIX}" || request.uri === "/{_PREFIX}/") {{
    request.uri = "/{_PREFIX}/{CONSOLE.index}";
  }}
  return request;
}}"""


def build_console(scope: Construct, api: apigw.HttpApi) -> cloudfront.Distribution:
    bucket = s3.Bucket(
        scope,
        "ConsoleAssets",
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        # Only built files, redeployed with the stack: nothing to keep.
        removal_policy=RemovalPolicy.DESTROY,
    )
    index = cloudfront.Function(
        scope,
        "ConsoleIndex",
        code=cloudfront.FunctionCode.from_inline(_INDEX_REWRITE),
        runtime=cloudfront.FunctionRuntime.JS_2_0,
        comment="The console's path serves its index page",
    )
    static = cloudfront.BehaviorOptions(
        origin=origins.S3BucketOrigin.with_origin_access_control(bucket),
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
        response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        function_associations=[
            cloudfront.FunctionAssociation(function=index, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)
        ],
    )
    distribution = cloudfront.Distribution(
        scope,
        "Console",
        comment="OMS: the web console and the API on one origin",
        default_behavior=cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(api_domain(api), protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        ),
        additional_behaviors={CONSOLE.path: static, f"{CONSOLE.path}/*": static},
        price_class=cloudfront.PriceClass.PRICE_CLASS_100,
    )
    s3deploy.BucketDeployment(
        scope,
        "ConsoleDeployment",
        sources=[s3deploy.Source.asset(str(CONSOLE.directory))],
        destination_bucket=bucket,
        destination_key_prefix=_PREFIX,
        distribution=distribution,
        distribution_paths=[CONSOLE.path, f"{CONSOLE.path}/*"],
    )
    CfnOutput(scope, "ConsoleUrl", value=f"https://{distribution.distribution_domain_name}{CONSOLE.path}")
    _acknowledge(bucket, distribution)
    _acknowledge_deployment(Stack.of(scope))
    return distribution


def _acknowledge_deployment(stack: Stack) -> None:
    """The copying function CDK adds for every BucketDeployment (one per stack)."""
    handler = next(c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment"))
    Validations.of(handler).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            reason="CDK's own deployment function (it copies the console's files at deploy time) "
            "comes with the AWS-managed basic execution policy: CloudWatch Logs only.",
        ),
        Acknowledgment(
            id="AwsSolutions-L1",
            reason="CDK's own deployment function: its runtime moves with the aws-cdk-lib version "
            "pinned in pyproject.toml, not chosen here.",
        ),
        *(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[{finding}]",
                reason="CDK's grants to its deployment function: read the staged asset, then write, "
                "list and delete the console's objects in its own bucket only.",
            )
            for finding in (
                "Action::s3:GetObject*",
                "Action::s3:GetBucket*",
                "Action::s3:List*",
                "Action::s3:DeleteObject*",
                "Action::s3:Abort*",
                "Resource::*",
                "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
            )
        ),
    )
    bucket_id = stack.get_logical_id(cast(CfnElement, stack.node.find_child("ConsoleAssets").node.default_child))
    Validations.of(handler).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
            reason="The deployment function writes the console's objects: every key of its own bucket.",
        )
    )


def _acknowledge(bucket: s3.Bucket, distribution: cloudfront.Distribution) -> None:
    Validations.of(bucket).acknowledge(
        Acknowledgment(
            id="AwsSolutions-S1",
            reason="Holds only the console's public static files, written by the deployment; "
            "reads are CloudFront's, whose requests the distribution would log.",
        )
    )
    Validations.of(distribution).acknowledge(
        Acknowledgment(
            id="AwsSolutions-CFR1",
            reason="Agents, operators and warehouses work from many countries; access is by API key, "
            "checked by the API's functions on every call.",
        ),
        Acknowledgment(
            id="AwsSolutions-CFR2",
            reason="No WAF web ACL in the base stack, as for the API: operators associate a global "
            "web ACL per deployment; every API call is authenticated and throttled.",
        ),
        Acknowledgment(
            id="AwsSolutions-CFR3",
            reason="The API behind it keeps its own access logs (API Gateway stage); the static "
            "files need none, and a log bucket would be one more bucket per deployment.",
        ),
        Acknowledgment(
            id="AwsSolutions-CFR4",
            reason="The default CloudFront certificate allows TLS 1.0 viewers; operators who attach "
            "their own domain and certificate set TLS 1.2 as the minimum.",
        ),
    )
