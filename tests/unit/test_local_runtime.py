"""The local runtime around each invocation in an environment."""

from __future__ import annotations

import pytest


def test_metrics_a_function_recorded_are_dropped_after_its_invocation_when_disabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Disabled, Powertools keeps the values and prints them once a hundred pile up; the
    local runtime drops them after each invocation, whichever ``Metrics`` recorded them."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    from infra.local import runtime

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for invocation in range(3):
        handlers = Metrics(namespace="oms", service=f"function-{invocation}")
        handlers.add_metric(name="OrdersCaptured", unit=MetricUnit.Count, value=1)
        assert handlers.metric_set
        runtime.drop_disabled_metrics()
        assert not handlers.metric_set and not Metrics().metric_set
