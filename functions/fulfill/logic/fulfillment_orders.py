"""A fulfillment order's own steps: accept, pick, pack, and the conflicts they can meet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from functions.allocate.api import allocation_keys, in_allocation_order
from functions.fulfill.logic.access import workable
from functions.fulfill.rules.views import fulfillment_order_view
from functions.fulfill.store import applied, fo_write_op, load_fulfillment_order
from functions.inventory.api import stock_pk, stock_sk, unsplit_bucket
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Conflict, RetryableError
from shared.order.timeline import event_item
from shared.retry import retry
from shared.table import ConditionFailed, Item, Table

# Attempts of a change whose pinned version moved under it (a concurrent write).
ATTEMPTS = 6

# action -> (the status it starts from, the status it leads to)
STEPS = {"accept": ("allocated", "accepted"), "pick": ("accepted", "picked"), "pack": ("picked", "packed")}

T = TypeVar("T")


class VersionMoved(Exception):
    """A pinned write lost a race: read again and retry."""


def wrong_status(fo: Item, action: str) -> Conflict:
    status = fo["status"]
    return Conflict(
        f"fulfillment order {fo['fo_id']} is {status}; it cannot {action}",
        errors=[{"field": "status", "message": f"is {status}"}],
        current_status=status,
    )


def retry_on_race(attempt: Callable[[], T]) -> T:
    """Run ``attempt`` (which reads fresh state) until no pinned condition refuses it."""
    return retry(
        attempt,
        on=VersionMoved,
        count=ATTEMPTS,
        base=0.02,
        gave_up=lambda _: RetryableError("the fulfillment order kept changing; try again"),
    )


def transact_pinned(table: Table, ops: list[dict[str, Any]], kinds: list[str], hard: dict[str, Exception]) -> None:
    """Write ``ops``; a refused pin is a race (VersionMoved), a refused ``hard`` kind its error."""
    try:
        table.transact(ops)
    except ConditionFailed as err:
        refused = {kinds[i] for i, reason in enumerate(err.reasons) if reason == "ConditionalCheckFailed"}
        for kind, error in hard.items():
            if kind in refused:
                raise error from err
        raise VersionMoved() from err


def advance(caller: Caller, fo_id: str, action: str) -> dict[str, Any]:
    """Move a fulfillment order one step (accept, pick or pack); 409 from any other status."""
    source, target = STEPS[action]
    table = Table()

    def attempt() -> dict[str, Any]:
        fo = workable(caller, load_fulfillment_order(fo_id, table))
        if fo["status"] != source:
            raise wrong_status(fo, action)
        at = now_iso()
        op = fo_write_op(fo, at=at, status=target)
        detail = {"fo_id": fo_id, "location_id": fo["location_id"], "status": target}
        event = {"Put": {"Item": event_item(fo["order_id"], f"fulfillment.{target}", detail, at=at)}}
        transact_pinned(table, [op, event], ["fo", "event"], {})
        return fulfillment_order_view(applied(fo, op))

    return retry_on_race(attempt)


def allocations_and_buckets(fo: Item, table: Table) -> tuple[list[Item], dict[str, int | None]]:
    """The fulfillment order's allocations and, per SKU it holds, the stock bucket its units
    are released or shipped from, in one consistent read: the pair's own item tells whether
    it is split (None: the stock operation finds a bucket in the split pair itself)."""
    skus = sorted({str(line["sku"]) for line in fo["lines"]})
    pairs = {sku: (stock_pk(sku), stock_sk(fo["location_id"])) for sku in skus}
    wanted = allocation_keys(fo)
    found = {(item["pk"], item["sk"]): item for item in table.batch_get([*wanted, *pairs.values()], consistent=True)}
    allocations = in_allocation_order(found[key] for key in wanted if key in found)
    return allocations, {sku: unsplit_bucket(found.get(key)) for sku, key in pairs.items()}
