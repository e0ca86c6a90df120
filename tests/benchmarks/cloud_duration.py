"""How long a function's invocation would run in Lambda, modelled from what the local stack measured.

The local stack's wall time per invocation is mostly waiting for the emulator (moto's
DynamoDB, the interpreter, other workers) on a shared 2-core machine: pricing it as
Lambda duration overstates the cloud several times over. The model takes instead:

- the handler's own CPU time, stretched by Lambda's CPU share: a function gets one vCPU
  at 1,769 MB and a proportional share below it, so 512 MB runs CPU work ~3.5x slower;
- plus, for every AWS request the function made, a typical in-region latency;
- plus the payment provider's round trip in the functions that authorize or capture (the
  local stack's sandbox gateway answers from the table; the meter sets its requests there
  apart, ``aws_meter.provider_only``, so they are not counted twice);
- plus a small runtime overhead.

The latencies are typical round figures, not measurements: change them here. The cost
(``bench_lifecycle``) and the capacity model (``capacity``) both use this one model.
"""

from __future__ import annotations

from collections.abc import Mapping

# Latency of one AWS request seen from a Lambda function in the same region (ms).
REQUEST_LATENCY_MS = {
    "dynamodb.GetItem": 4,
    "dynamodb.PutItem": 6,
    "dynamodb.UpdateItem": 6,
    "dynamodb.DeleteItem": 6,
    "dynamodb.Query": 8,
    "dynamodb.BatchGetItem": 10,
    "dynamodb.BatchWriteItem": 12,
    "dynamodb.TransactGetItems": 12,
    "dynamodb.TransactWriteItems": 20,
    "stepfunctions.StartExecution": 30,
    "stepfunctions.SendTaskSuccess": 20,
    "stepfunctions.SendTaskFailure": 20,
    "events.PutEvents": 20,
    "sqs.SendMessage": 15,
    "sqs.SendMessageBatch": 20,
    "secretsmanager.GetSecretValue": 20,
}
DEFAULT_LATENCY_MS = 15
# Calls outside AWS in production, one payment provider round trip per invocation.
EXTERNAL_LATENCY_MS = {"AdvanceOrder": 400, "CaptureShipments": 400, "SettleFulfillmentOrder": 400}
FULL_VCPU_MB = 1_769
INVOCATION_OVERHEAD_MS = 1.0


def duration_s(*, cpu_ms: float, requests: Mapping[str, float], memory_mb: float, function: str = "") -> float:
    """One invocation: ``cpu_ms`` of local CPU and ``requests`` ("service.Operation": count) made."""
    cpu = cpu_ms * max(1.0, FULL_VCPU_MB / memory_mb)
    waits = sum(n * REQUEST_LATENCY_MS.get(op, DEFAULT_LATENCY_MS) for op, n in requests.items())
    return (cpu + waits + EXTERNAL_LATENCY_MS.get(function, 0) + INVOCATION_OVERHEAD_MS) / 1000
