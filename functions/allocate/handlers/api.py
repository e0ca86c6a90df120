"""HTTP entry point of routing configuration: GET/PUT /v1/config/routing (operators)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.logic.policy import RoutingPolicy, load_policy, save_policy
from shared.api.app import build_app, current_caller, require_json_object
from shared.observability import logger

router = APIGatewayRouter()


@router.get("/v1/config/routing", summary="The routing policy", tags=["configuration"])
def get_policy() -> RoutingPolicy:
    current_caller(router).require("ops", "agent")
    return load_policy()


@router.put("/v1/config/routing", summary="Replace the routing policy", tags=["configuration"])
def put_policy(policy: Annotated[RoutingPolicy, Body()]) -> RoutingPolicy:
    current_caller(router).require("ops")
    require_json_object(router)
    return save_policy(policy)


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
