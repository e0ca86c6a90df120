"""An operator's retry of a change order's follow-up that failed after the change committed.

The follow-up of each kind of change reads what it needs from the change item alone and
marks every step it takes on the change (or on the ledger) once, so running it again
finishes what is left and repeats nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from functions.changes.logic.adjust import settle_appeasement
from functions.changes.logic.cancel import settle_cancel
from functions.changes.logic.edit import settle_edit
from functions.changes.store import change_sk
from shared.errors import Conflict, DomainError, NotFound, RetryableError
from shared.order import keys
from shared.retry import attempts
from shared.table import Item, Table

_ATTEMPTS = 3

FOLLOW_UPS: dict[str, Callable[[str, Item], object]] = {
    "cancel": settle_cancel,
    "edit": settle_edit,
    "appeasement": settle_appeasement,
}


def rerun_follow_up(order_id: str, change_id: str) -> None:
    """Run the change's follow-up again; raises when it fails again (the caller keeps the
    process exception open): 503 when it may go through on a later try, 409 otherwise."""
    change = Table().get(keys.order_pk(order_id), change_sk(change_id))
    if change is None:
        raise NotFound(f"no change {change_id} on order {order_id}")
    follow_up = FOLLOW_UPS.get(change["kind"])
    if follow_up is None:
        raise Conflict(f"change {change_id} ({change['kind']}) has no follow-up to run again")
    error: Exception | None = None
    for _attempt in attempts(_ATTEMPTS):
        try:
            follow_up(order_id, change)
            return
        except RetryableError as err:
            error = err
        except (DomainError, ValueError) as err:
            raise Conflict(f"the follow-up of change {change_id} failed again: {err}") from err
    assert error is not None
    raise error
