"""The lifecycle benchmark's watching, on the emulated table."""

from __future__ import annotations

from types import SimpleNamespace

from shared.table import Table
from tests.benchmarks.bench_lifecycle import _finished


def _header(order_id: str, *, workflow: str, fulfillment: str, updated_at: str) -> dict:
    return {
        "pk": f"ORDER#{order_id}",
        "sk": "HEADER",
        "type": "order",
        "workflow": {"status": workflow},
        "fulfillment_status": fulfillment,
        "updated_at": updated_at,
    }


def test_an_order_finished_when_its_header_was_written_not_when_the_watching_looked(aws):
    """Throughput is the orders over the time until the last one finished: the watching
    looks every half second, and its look is not the stack's time."""
    table = Table()
    table.put(_header("a", workflow="SUCCEEDED", fulfillment="delivered", updated_at="2026-12-04T20:00:01.250Z"))
    table.put(_header("b", workflow="SUCCEEDED", fulfillment="shipped", updated_at="2026-12-04T20:00:02.000Z"))
    stack = SimpleNamespace(region="us-east-1", resources=aws)
    done = _finished(stack, ["a", "b"], timeout=0.1)
    assert done == {"a": 1796414401.25}  # b is not delivered yet
