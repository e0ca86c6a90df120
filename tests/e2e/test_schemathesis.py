"""Generated requests against the served OpenAPI document, as each role: no 5xx, and every
answer (status, content type, body) is one the document declares."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.local.client import RunningStack

# One API key per role (infra/local/dev_credentials.py); webhooks take none and ignore it.
ROLE_KEYS = ["dev-web-key", "dev-wms-key", "dev-agent-key", "dev-ops-key"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="session")
def api_schema(stack: RunningStack):
    return schemathesis.openapi.from_url(stack.api_url + "/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("api_key", ROLE_KEYS)
@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_documented(case, api_key):
    headers = {} if case.operation.definition.raw.get("security") == [] else {"x-api-key": api_key}
    response = case.call(headers=headers, timeout=60)
    case.validate_response(response, checks=CHECKS, headers=headers)
