"""X-Ray tracing of AWS calls, for the HTTP functions only.

The X-Ray SDK adds about 200 ms to a cold start (measured with ``-X importtime``), so
functions off the request path (state machine tasks, stream and queue consumers) rely on
Lambda's active tracing alone, which needs no SDK.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer(service="oms")
