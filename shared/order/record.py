"""Order persistence: an order is many items under ``ORDER#<id>``.

HEADER          the order's header (channel, customer, totals, statuses, workflow)
LINE#00001...   one item per line, with its quantity buckets
EVENT#<at>#<id> the timeline, one item per change
Later domains add FO#, SHP#, PAY#, INV#, CM#, RET#, CHG# items under the same key.

No item grows with the order, so orders of thousands of lines stay far below 400 KB per item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.errors import Conflict
from shared.order import keys
from shared.table import TRANSACTION_LIMIT, ConditionFailed, Item, Table


class DuplicateOrder(Conflict):
    def __init__(self, channel: str, external_id: str, order_id: str):
        super().__init__(
            f"channel {channel!r} already has an order with external_id {external_id!r}",
            errors=[{"field": "external_id", "message": f"already used by order {order_id}"}],
            order_id=order_id,
        )
        self.order_id = order_id


@dataclass
class OrderRecord:
    header: Item
    lines: list[Item] = field(default_factory=list)
    # Items of later domains, by their sk prefix (FO, SHP, PAY, ...).
    others: dict[str, list[Item]] = field(default_factory=dict)


def create_order(header: Item, lines: list[Item], events: list[Item], table: Table | None = None) -> None:
    """Write a new order; ``DuplicateOrder`` if its channel already used the external id.

    The lines go first (batched: 1 write unit each, where a transaction bills 2), then the
    header in one transaction with the channel-number marker and the events, so an order is
    visible only once complete; if that transaction is refused the orphan lines are deleted
    again.
    """
    table = table or Table()
    marker = {
        "pk": keys.channel_order_pk(header["channel"], header["external_id"]),
        "sk": "CHANNELORDER",
        "type": "channel_order",
        "order_id": header["order_id"],
    }
    head_ops: list[dict[str, Any]] = [
        {"Put": {"Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"Item": header, "ConditionExpression": "attribute_not_exists(pk)"}},
        *({"Put": {"Item": e}} for e in events),
    ]
    table.batch_put(lines)
    if len(head_ops) > TRANSACTION_LIMIT:
        raise ValueError("too many events for one transaction")
    try:
        table.transact(head_ops)
    except ConditionFailed as err:
        existing = table.get(marker["pk"], marker["sk"])
        if existing and existing["order_id"] == header["order_id"]:
            return  # an SDK retry of our own write that had gone through: the order is there
        table.batch_delete((line["pk"], line["sk"]) for line in lines)
        if existing and err.reasons[:1] == ["ConditionalCheckFailed"]:
            raise DuplicateOrder(header["channel"], header["external_id"], existing["order_id"]) from err
        raise


def find_order_id(channel: str, external_id: str, table: Table | None = None) -> str | None:
    """The id of the order a channel knows by ``external_id``, if it was captured."""
    marker = (table or Table()).get(keys.channel_order_pk(channel, external_id), "CHANNELORDER")
    return str(marker["order_id"]) if marker else None


def load_order(order_id: str, table: Table | None = None) -> OrderRecord | None:
    """The whole order but its timeline, in one paginated query.

    The timeline's items stay in the table (a filter): they are read and paid for all the
    same, but not sent, and past the first few steps an order has more of them than of
    anything else."""
    table = table or Table()
    header: Item | None = None
    lines: list[Item] = []
    others: dict[str, list[Item]] = {}
    for item in table.query_all(
        "pk = :pk",
        {":pk": keys.order_pk(order_id), ":event": keys.EVENT_SK_PREFIX},
        filter_expression="NOT begins_with(sk, :event)",
        consistent=True,
    ):
        sk = item["sk"]
        if sk == keys.ORDER_HEADER:
            header = item
        elif sk.startswith(keys.LINE_SK_PREFIX):
            lines.append(item)
        else:
            others.setdefault(sk.split("#", 1)[0], []).append(item)
    if header is None:
        return None
    return OrderRecord(header=header, lines=lines, others=others)


def get_header(order_id: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(keys.order_pk(order_id), keys.ORDER_HEADER)
