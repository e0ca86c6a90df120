"""HTTP entry point of customers: profiles, the 360° view, erasure and search."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.customers.logic.customer_view import CustomerView, customer_view
from functions.customers.logic.profiles import CustomerPage, ProfileIn, erase_customer, find_customers, put_profile
from functions.customers.logic.search import SearchPage, search
from shared.api.app import build_app, current_caller
from shared.api.idempotency import run_idempotent
from shared.observability import logger

router = APIGatewayRouter()


@router.put(
    "/v1/customers/<customer_id>",
    summary="Create or replace a customer's profile",
    tags=["customers"],
    responses={200: {"description": "The profile, replaced"}, 201: {"description": "The profile, created"}},
)
def put_customer(
    customer_id: Annotated[str, Path(pattern=r"^cus_[A-Za-z0-9]{1,40}$")], body: Annotated[ProfileIn, Body()]
) -> Response[dict[str, Any]]:
    profile, created = put_profile(current_caller(router), customer_id, body)
    return Response(status_code=201 if created else 200, content_type="application/json", body=profile)


@router.get("/v1/customers", summary="Find customers by e-mail, phone or name prefix", tags=["customers"])
def list_customers(
    email: Annotated[str | None, Query()] = None,
    phone: Annotated[str | None, Query()] = None,
    name: Annotated[str | None, Query()] = None,
) -> CustomerPage:
    return find_customers(current_caller(router), email=email, phone=phone, name=name)


@router.get("/v1/customers/<customer_id>", summary="The customer's 360° view", tags=["customers"])
def get_customer(customer_id: Annotated[str, Path()]) -> CustomerView:
    return customer_view(current_caller(router), customer_id)


@router.post("/v1/customers/<customer_id>/erase", summary="Erase the customer's personal data", tags=["customers"])
def post_erase(
    customer_id: Annotated[str, Path()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    caller = current_caller(router)
    result = run_idempotent(
        lambda _body: erase_customer(caller, customer_id),
        name="erase_customer",
        key=idempotency_key,
        scope=caller.principal_id,
        body={"customer_id": customer_id},
    )
    logger.info("customer erased", extra={"customer_id": customer_id, "orders": result["orders"]})
    return dict(result)


@router.get("/v1/search", summary="Find orders and customers", tags=["customers"])
def get_search(q: Annotated[str, Query(min_length=1, max_length=200)]) -> SearchPage:
    return search(current_caller(router), q)


app = build_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
