"""AWS list prices (us-east-1, on demand, arm64) the cost per order is computed from.

One table, so a price change is one edit. Free tiers are ignored.
"""

from __future__ import annotations

PRICES_USD = {
    # Step Functions Standard, per state transition.
    "stepfunctions_transition": 0.025 / 1_000,
    # Lambda: per request, and per GB-second on arm64.
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000133334,
    # DynamoDB on demand.
    "dynamodb_write_unit": 0.625 / 1_000_000,
    "dynamodb_read_unit": 0.125 / 1_000_000,
    # API Gateway HTTP API, per request (the first 300 million a month; $0.90 beyond;
    # metered in 512 KB increments). The REST API it replaced cost $3.50 per million.
    "apigateway_request": 1.00 / 1_000_000,
    # EventBridge custom events, per event published (64 KB chunks).
    "eventbridge_event": 1.00 / 1_000_000,
    # SQS standard, per request (64 KB chunks).
    "sqs_request": 0.40 / 1_000_000,
    # SES, per outbound message (customer notifications; reported apart).
    "ses_message": 0.10 / 1_000,
}


def cost_per_thousand(per_order: dict[str, float]) -> dict[str, float]:
    """USD per 1,000 orders, by service, from per-order quantities named as in PRICES_USD."""
    costs = {name: per_order.get(name, 0.0) * price * 1000 for name, price in PRICES_USD.items()}
    costs["total_without_messages"] = sum(v for k, v in costs.items() if k != "ses_message")
    return costs
