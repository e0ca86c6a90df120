"""Generated requests against the served OpenAPI document, as each role: no 5xx, and every
answer (status, content type, body) is one the document declares."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from infra.local.client import RunningStack

# One API key per role (infra/local/dev_credentials.py), each sent every case; webhooks take none.
ROLE_KEYS = ["dev-web-key", "dev-wms-key", "dev-agent-key", "dev-ops-key"]
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
EXAMPLES_PER_OPERATION = 4


def _checks() -> list:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
@pytest.mark.e2e
def test_every_operation_answers_as_documented(stack: RunningStack):
    # Schemathesis' own pytest plugin does not load under this pytest; each operation runs as a Hypothesis test.
    api_schema = schemathesis.openapi.from_url(stack.api_url + "/v1/openapi.json")
    checks = _checks()
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case):
            for key in [None] if case.operation.definition.raw.get("security") == [] else ROLE_KEYS:
                headers = {"x-api-key": key} if key else {}
                response = case.call(headers=headers, timeout=60)
                case.validate_response(response, checks=checks, headers=headers)

        try:
            run()
        except Exception as failure:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.label}: {str(failure)[:1500]}")
    assert not failures, "\n\n".join(failures)
