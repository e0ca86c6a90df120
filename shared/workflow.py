"""The workflows as handlers see them: starting an execution (one Standard execution per
order, named by the order id), answering a waiting task, and the branches a task raises."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import client
from shared.errors import RetryableError, Throttled
from shared.settings import get_settings


def execution_arn(state_machine_arn: str, name: str) -> str:
    """An execution's ARN follows from its state machine's and its name: no call needed."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def order_execution_arn(order_id: str, workflow: Mapping[str, Any] | None) -> str | None:
    """The execution an order header's ``workflow`` names. One named by the order id (every
    capture's) is not stored: it follows from the state machine's ARN, and 160 bytes on a
    header written seven times or more would make each write cost two units, not one. Only
    another execution (a retry's, an exchange's) is recorded as ``execution_arn``."""
    if not workflow:
        return None
    if workflow.get("execution_arn"):
        return str(workflow["execution_arn"])
    machine = get_settings().order_lifecycle_arn
    return execution_arn(machine, order_id) if machine else None


def start_order_lifecycle(order_id: str, *, fulfillment_timeout_seconds: int, name: str | None = None) -> str:
    """Start (or find already started) the order's execution; returns its ARN.

    ``fulfillment_timeout_seconds`` (the routing policy's) bounds each wait on a
    fulfillment order: the first wait is AdvanceOrder's own, whose timeout must be known
    before the task starts, so the execution carries it from its input.

    A second start with the same name and input is a no-op; one for a closed execution
    raises ExecutionAlreadyExists, which also means "already started".
    """
    arn = get_settings().order_lifecycle_arn
    name = name or order_id
    payload = {"order_id": order_id, "fulfillment_timeout_seconds": fulfillment_timeout_seconds}
    try:
        out = client("stepfunctions").start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
        return str(out["executionArn"])
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code == "ExecutionAlreadyExists":
            return execution_arn(arn, name)
        if code in ("ThrottlingException", "TooManyRequestsException"):
            raise Throttled("Step Functions throttled the start") from err
        if code in ("ServiceUnavailable", "InternalServerError", "ServiceException"):
            raise RetryableError("Step Functions is unavailable") from err
        raise


def start_return_lifecycle(return_id: str, order_id: str, *, receipt_timeout_seconds: int) -> str:
    """Start (or find already started) the return's execution, named by the return id."""
    arn = get_settings().return_lifecycle_arn
    payload = {"return_id": return_id, "order_id": order_id, "receipt_timeout_seconds": receipt_timeout_seconds}
    try:
        out = client("stepfunctions").start_execution(stateMachineArn=arn, name=return_id, input=json.dumps(payload))
        return str(out["executionArn"])
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code == "ExecutionAlreadyExists":
            return execution_arn(arn, return_id)
        if code in ("ThrottlingException", "TooManyRequestsException"):
            raise Throttled("Step Functions throttled the start") from err
        if code in ("ServiceUnavailable", "InternalServerError", "ServiceException"):
            raise RetryableError("Step Functions is unavailable") from err
        raise


_STALE_TOKEN_CODES = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken", "ExecutionDoesNotExist"}


def _callback(send: Callable[[], object]) -> bool:
    try:
        send()
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in _STALE_TOKEN_CODES:
            return False
        if code in ("ThrottlingException", "TooManyRequestsException"):
            raise Throttled("Step Functions throttled the callback") from err
        raise
    return True


def resume_task(task_token: str, output: dict[str, object]) -> bool:
    """Complete a ``.waitForTaskToken`` task; False when the token is spent or expired."""
    sfn = client("stepfunctions")
    return _callback(lambda: sfn.send_task_success(taskToken=task_token, output=json.dumps(output)))


def branch_task(task_token: str, branch: str, detail: dict[str, object]) -> bool:
    """End a ``.waitForTaskToken`` task on a side branch: the task fails with ``branch`` as
    its error, which the state's Catch routes, and ``detail`` as JSON in its cause (read back
    with ``States.StringToJson``). The common way on stays free of Choice states, each of
    which is a paid transition. False when the token is spent or expired."""
    sfn = client("stepfunctions")
    return _callback(lambda: sfn.send_task_failure(taskToken=task_token, error=branch, cause=json.dumps(detail)))


class WorkflowBranch(Exception):
    """A task's outcome that leaves the state machine's common way: the task raises it and
    the state's Catch, matching the class name, routes it. Only outcomes off the common way
    are raised, so the way most executions take pays for no Choice state."""
