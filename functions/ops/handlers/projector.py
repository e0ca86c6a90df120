"""Table stream consumer: new timeline items -> domain events on EventBridge.

One PutEvents call per ten events of a batch. On a failure the batch reports the first
failed record, so Lambda retries the stream from there (then the failure destination);
consumers deduplicate by ``event_id``, since a retried batch can publish twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ops.logic.domain_events import domain_events
from shared.event_bus import publish
from shared.observability import logger
from shared.table import from_ddb


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sequence: list[str] = []
    events: list[dict[str, Any]] = []
    for record in event.get("Records", []):
        change = record.get("dynamodb") or {}
        if record.get("eventName") != "INSERT" or "NewImage" not in change:
            continue
        for domain in domain_events(from_ddb(change["NewImage"])):
            sequence.append(change["SequenceNumber"])
            events.append(domain)
    failed = publish(events)
    if failed:
        logger.warning("domain events not published", extra={"failed": len(failed), "of": len(events)})
        return {"batchItemFailures": [{"itemIdentifier": sequence[min(failed)]}]}
    return {"batchItemFailures": []}
