"""What follows a committed change order (stock, fulfillment, money), guarded.

The change is written and stays: if what follows fails it is retried a few times, and
then recorded as a process exception an operator can retry, never lost silently.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.errors import DomainError, RetryableError
from shared.observability import logger
from shared.process_exceptions import record_exception
from shared.retry import attempts

_ATTEMPTS = 3
# The exception's way back: ops runs the change's follow-up again (logic/follow_up.py).
FOLLOW_UP_ACTION = "change_follow_up"


def after_commit(order_id: str, step: str, change_id: str, work: Callable[[], None]) -> bool:
    """Run ``work`` (idempotent); True when it went through."""
    error: Exception | None = None
    for _attempt in attempts(_ATTEMPTS):
        try:
            work()
            return True
        except RetryableError as err:
            error = err
        except (DomainError, ValueError) as err:
            error = err
            break
    assert error is not None
    logger.warning("change order follow-up failed", extra={"order_id": order_id, "change_id": change_id})
    record_exception(
        order_id=order_id,
        step=step,
        error=type(error).__name__,
        cause=str(error),
        retry={"action": FOLLOW_UP_ACTION, "change_id": change_id},
    )
    return False
