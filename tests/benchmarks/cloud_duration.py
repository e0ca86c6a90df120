"""What a function's invocations would bill in Lambda, modelled from what the local stack measured.

The local stack's wall time per invocation is mostly waiting for the emulator (moto's
DynamoDB, the interpreter, other workers) on a shared 2-core machine: pricing it as
Lambda duration overstates the cloud cost several times over. The model instead takes:

- the handler's own CPU seconds, stretched by Lambda's CPU share: a function gets one
  vCPU at 1,769 MB and a proportional share below it, so 512 MB runs CPU work ~3.5x slower;
- plus, for every AWS request the function made, a typical in-region latency;
- plus the payment provider's answer for each authorization and capture.

The figures are conservative round numbers from AWS's and providers' published latencies,
not measurements: change them here.
"""

from __future__ import annotations

from collections.abc import Mapping

FULL_VCPU_MB = 1769

# Seconds per request, by "service.Operation" or service.
REQUEST_LATENCY_S = {
    "dynamodb": 0.006,
    "dynamodb.TransactWriteItems": 0.015,
    "dynamodb.TransactGetItems": 0.010,
    "dynamodb.Query": 0.008,
    "sqs": 0.015,
    "events": 0.020,
    "stepfunctions": 0.030,
    "secretsmanager": 0.020,
    "lambda": 0.030,
}
# A payment provider's authorization or capture (a card network round trip).
PROVIDER_CALL_S = 0.5
# Lambda bills in 1 ms steps.
BILLING_STEP_S = 0.001


def latency(call: str) -> float:
    """``call`` is ``service.Operation``."""
    service = call.split(".", 1)[0]
    return REQUEST_LATENCY_S.get(call, REQUEST_LATENCY_S.get(service, 0.02))


def gb_seconds(
    *,
    cpu_seconds: float,
    requests: Mapping[str, float],
    memory_mb: int,
    provider_calls: float = 0.0,
    invocations: float = 1.0,
) -> float:
    """GB-seconds of one function's invocations: CPU at its share, plus what it waited for."""
    cpu_share = min(1.0, memory_mb / FULL_VCPU_MB)
    waiting = sum(n * latency(call) for call, n in requests.items()) + provider_calls * PROVIDER_CALL_S
    seconds = cpu_seconds / cpu_share + waiting
    # Each invocation rounds up to the billing step: half a step on average.
    seconds += invocations * BILLING_STEP_S / 2
    return seconds * memory_mb / 1024
