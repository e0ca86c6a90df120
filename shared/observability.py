"""Logger and metrics: one place, so every function logs and measures alike.

Logs are JSON with the API Gateway request id as correlation id. Personal data (email,
phone, address, names) is never logged: log ids and counts only.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

NAMESPACE = "OMS"

logger = Logger(service="oms")
metrics = Metrics(namespace=NAMESPACE, service="oms")
