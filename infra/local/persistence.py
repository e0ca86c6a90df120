"""The local stack's state across a restart (``serve --data-dir DIR``).

moto keeps everything in memory in the server process. On stop (and every
``SAVE_SECONDS``) the state the OMS lives on is written to ``DIR/state.json``: the
table's items, the secrets' values, the messages waiting in queues, and the state
machines' executions with their histories. On start, after provisioning, it is put
back: items straight into the table (not through the stream: their consumers already
saw them), secrets as new versions, messages sent again, finished executions as they
ended.

An execution that was running resumes at the top-level state it was in, with that
state's input, the way the interpreter would have entered it: a task waiting for a
token waits again with the same token, so whoever holds the token can still send it;
inside a Map state the iterations start again (the OMS's waiting tasks store the
token they are given and resume at once when their news already came, and the steps
after them are idempotent). Its history is the saved one followed by the new events.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.sqs.models import sqs_backends
from moto.stepfunctions.parser.asl.eval.states import TaskData
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from infra.local import moto_patches, runtime

log = logging.getLogger(__name__)

FILE = "state.json"
SAVE_SECONDS = 30.0
_FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def _revive(value: dict[str, Any]) -> Any:
    if set(value) == {"$datetime"}:
        return datetime.fromisoformat(value["$datetime"])
    return value


# --- snapshot ---------------------------------------------------------------------------


def snapshot(stack: Any) -> dict[str, Any]:
    account, region = runtime.ACCOUNT_ID, stack.region
    return {
        "version": 1,
        "dynamodb": _tables(account, region),
        "secretsmanager": _secrets(stack),
        "sqs": _queues(account, region),
        "stepfunctions": _executions(account, region),
    }


def _tables(account: str, region: str) -> dict[str, list[dict[str, Any]]]:
    backend = dynamodb_backends[account][region]
    with moto_patches.dynamodb_lock():
        return {
            name: [item.to_json()["Attributes"] for item in list(table.all_items())]
            for name, table in backend.tables.items()
        }


def _secrets(stack: Any) -> dict[str, str]:
    client = stack.client("secretsmanager")
    values: dict[str, str] = {}
    for page in client.get_paginator("list_secrets").paginate():
        for secret in page["SecretList"]:
            found = client.get_secret_value(SecretId=secret["ARN"])
            if "SecretString" in found:
                values[secret["Name"]] = found["SecretString"]
    return values


def _queues(account: str, region: str) -> dict[str, list[dict[str, Any]]]:
    backend = sqs_backends[account][region]
    return {
        name: [{"body": m.body, "attributes": m.message_attributes} for m in list(queue._messages)]
        for name, queue in list(backend.queues.items())
    }


def _executions(account: str, region: str) -> list[dict[str, Any]]:
    backend: Any = stepfunctions_parser_backends[account][region]  # typed as moto's older model
    saved = []
    for machine in list(backend.state_machines):
        for execution in list(machine.executions):
            if execution.exec_status is None:
                continue
            history = execution.to_history_output()["events"]
            entry: dict[str, Any] = {
                "state_machine_arn": machine.arn,
                "name": execution.name,
                "arn": execution.exec_arn,
                "status": execution.exec_status.value,
                "input": execution.input_data,
                "output": execution.output,
                "error": execution.error,
                "cause": execution.cause,
                "start_date": execution.start_date,
                "stop_date": execution.stop_date,
                "history": history,
            }
            if entry["status"] == "RUNNING":
                entry["resume"] = _resume_point(machine.definition, history, execution)
            saved.append(entry)
    return saved


def _resume_point(definition: str, history: list[dict[str, Any]], execution: Any) -> dict[str, Any] | None:
    """The top-level state the execution is in, its input, and the tokens it waits on."""
    top = set(json.loads(definition)["States"])
    for event in reversed(history):
        details = event.get("stateEnteredEventDetails")
        if event["type"].endswith("StateEntered") and details and details["name"] in top:
            env = execution.exec_worker.env if execution.exec_worker else None
            pool = getattr(getattr(env, "callback_pool_manager", None), "_pool", {})
            waiting = [token for token, endpoint in pool.items() if not endpoint._notify_event.is_set()]
            return {"state": details["name"], "input": json.loads(details.get("input") or "{}"), "tokens": waiting}
    return None


def save(stack: Any, data_dir: Path) -> None:
    """Write the snapshot atomically: a crash mid-write leaves the previous one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{FILE}.tmp"
    temporary.write_text(json.dumps(snapshot(stack), default=_json_default))
    os.replace(temporary, data_dir / FILE)


# --- restore ----------------------------------------------------------------------------


def restore(stack: Any, data_dir: Path) -> dict[str, int]:
    """Put a saved state back into a freshly provisioned stack; counts of what came back."""
    path = data_dir / FILE
    if not path.exists():
        return {}
    state = json.loads(path.read_text(), object_hook=_revive)
    account, region = runtime.ACCOUNT_ID, stack.region
    counts = {
        "items": _restore_tables(account, region, state.get("dynamodb", {})),
        "secrets": _restore_secrets(stack, state.get("secretsmanager", {})),
        "messages": _restore_queues(stack, account, region, state.get("sqs", {})),
    }
    counts.update(_restore_executions(account, region, state.get("stepfunctions", [])))
    return counts


def _restore_tables(account: str, region: str, tables: dict[str, list[dict[str, Any]]]) -> int:
    backend = dynamodb_backends[account][region]
    restored = 0
    with moto_patches.dynamodb_lock():
        for name, items in tables.items():
            table = backend.tables.get(name)
            if table is None:
                log.warning("saved table %s is not in the stack any more: its items are left out", name)
                continue
            for attrs in items:
                hash_key = DynamoType(attrs[table.hash_key_attr])
                if table.range_key_attr:
                    range_key = DynamoType(attrs[table.range_key_attr])
                    table.items[hash_key][range_key] = Item(hash_key, range_key, attrs)
                else:
                    table.items[hash_key] = Item(hash_key, None, attrs)  # type: ignore[assignment]
                restored += 1
            moto_patches.items_replaced(table)
    return restored


def _restore_secrets(stack: Any, secrets: dict[str, str]) -> int:
    client = stack.client("secretsmanager")
    restored = 0
    for name, value in secrets.items():
        try:
            if client.get_secret_value(SecretId=name).get("SecretString") == value:
                continue
            client.put_secret_value(SecretId=name, SecretString=value)
        except client.exceptions.ResourceNotFoundException:
            client.create_secret(Name=name, SecretString=value)
        restored += 1
    return restored


def _restore_queues(stack: Any, account: str, region: str, queues: dict[str, list[dict[str, Any]]]) -> int:
    client = stack.client("sqs")
    backend = sqs_backends[account][region]
    restored = 0
    for name, messages in queues.items():
        queue = backend.queues.get(name)
        if queue is None:
            continue
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        for message in messages:
            extra = {"MessageGroupId": "restored"} if name.endswith(".fifo") else {}
            attributes = {
                k: {key: v[key] for key in ("DataType", "StringValue", "BinaryValue") if key in v}
                for k, v in (message.get("attributes") or {}).items()
            }
            client.send_message(QueueUrl=url, MessageBody=message["body"], MessageAttributes=attributes, **extra)
            restored += 1
    return restored


def _restore_executions(account: str, region: str, saved: list[dict[str, Any]]) -> dict[str, int]:
    backend: Any = stepfunctions_parser_backends[account][region]
    machines: dict[str, Any] = {m.arn: m for m in backend.state_machines}
    finished = resumed = 0
    for entry in saved:
        machine = machines.get(entry["state_machine_arn"])
        if machine is None or any(e.exec_arn == entry["arn"] for e in machine.executions):
            continue
        resume = entry.get("resume")
        running = entry["status"] == "RUNNING" and resume is not None
        execution = _SavedExecution(
            name=entry["name"],
            sm_type=machine.sm_type,
            role_arn=machine.roleArn,
            exec_arn=entry["arn"],
            account_id=account,
            region_name=region,
            state_machine=machine,
            start_date=entry["start_date"],
            cloud_watch_logging_session=None,
            activity_store={},
            input_data=json.dumps(entry["input"]),
        )
        execution.saved_history = entry["history"]
        machine.executions.append(execution)
        if running:
            execution.resume_at = resume
            execution.start()
            resumed += 1
        else:
            from moto.stepfunctions.parser.api import ExecutionStatus

            # A running execution with no state to resume at cannot go on: it stopped here.
            status = entry["status"] if entry["status"] in _FINISHED else "ABORTED"
            execution.exec_status = ExecutionStatus(status)
            execution.stop_date = entry["stop_date"] or datetime.now().astimezone()
            execution.output, execution.error, execution.cause = entry["output"], entry["error"], entry["cause"]
            finished += 1
    return {"executions": finished, "resumed": resumed}


class _SavedExecution(Execution):
    saved_history: list[dict[str, Any]]
    resume_at: dict[str, Any] | None = None

    def _get_start_execution_worker(self) -> ExecutionWorker:
        assert self.resume_at is not None
        return _ResumedWorker(
            self.resume_at,
            evaluation_details=super()._get_start_execution_worker()._evaluation_details,
            exec_comm=self._get_start_execution_worker_comm(),
            cloud_watch_logging_session=None,
            activity_store=self._activity_store,
        )

    def to_history_output(self) -> Any:
        events = [dict(e) for e in self.saved_history]
        if self.exec_worker is not None and self.exec_worker.env is not None:
            offset = len(events)
            for new in self.exec_worker.env.event_manager.get_event_history():
                if new["type"] == "ExecutionStarted":
                    continue  # it started once, in the saved history
                event: dict[str, Any] = dict(new)
                event["id"] = event["id"] + offset
                if event.get("previousEventId"):
                    event["previousEventId"] += offset
                events.append(event)
        return {"events": events}


class _ResumedWorker(ExecutionWorker):
    def __init__(self, resume_at: dict[str, Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.resume_at = resume_at

    def _get_evaluation_entrypoint(self) -> Any:
        definition = json.loads(self._evaluation_details.state_machine_details.definition)
        definition["StartAt"] = self.resume_at["state"]
        return AmazonStateLanguageParser.parse(json.dumps(definition))[0]

    def _get_evaluation_environment(self) -> Any:
        env = super()._get_evaluation_environment()
        env.states.reset(self.resume_at["input"])
        tokens = list(self.resume_at.get("tokens") or [])
        context = env.states.context_object
        generate = context.update_task_token

        def same_token() -> str:
            # The task asks for a token as it starts waiting: the one its callers hold.
            if len(tokens) == 1:
                token = tokens.pop()
                context.context_object_data["Task"] = TaskData(Token=token)
                return token
            return str(generate())

        context.update_task_token = same_token  # type: ignore[method-assign]
        return env


class Saver:
    """Saves every ``SAVE_SECONDS`` until stopped, and once more on stop."""

    def __init__(self, stack: Any, data_dir: Path, every: float = SAVE_SECONDS):
        self.stack, self.data_dir, self.every = stack, data_dir, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="state-saver", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                save(self.stack, self.data_dir)
            except Exception:  # a failed periodic save is retried next time; stop saves again
                log.exception("saving the local stack's state failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)
        save(self.stack, self.data_dir)
