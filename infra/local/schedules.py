"""Firing the manifest's schedules on the local stack: moto keeps scheduled rules but never runs them.

``python -m infra.local run-schedule NightlyForecasts`` (or ``fire`` from code) reads the
provisioned rule's targets from the local EventBridge and invokes each with the event
EventBridge sends for a schedule, through the local Lambda API: the same handler, the
same event shape as in the cloud.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from infra import manifest


def scheduled_event(rule_arn: str, at: datetime | None = None) -> dict[str, Any]:
    """What EventBridge delivers when a schedule fires."""
    moment = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    region, account = rule_arn.split(":")[3], rule_arn.split(":")[4]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": moment,
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def fire(events: Any, lambda_: Any, name: str, at: datetime | None = None) -> list[dict[str, Any]]:
    """Invoke every target of the schedule ``name`` (a manifest name) now; each target's answer."""
    if name not in {s.name for s in manifest.SCHEDULES}:
        raise KeyError(f"no schedule {name!r} in the manifest")
    rule = events.describe_rule(Name=manifest.LOCAL_PREFIX + name)
    answers = []
    for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
        response = lambda_.invoke(
            FunctionName=target["Arn"], Payload=json.dumps(scheduled_event(rule["Arn"], at)).encode()
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise RuntimeError(f"{target['Arn']} failed: {payload}")
        answers.append(payload)
    return answers
