"""Reading a return: its order's channel, agents, operators and the WMS may see it."""

from __future__ import annotations

from typing import Any

from functions.returns.logic.views import return_view
from functions.returns.store import load_return
from shared.api.caller import Caller
from shared.errors import NotFound
from shared.table import Item


def _may_see(caller: Caller, header: Item, ret: Item) -> bool:
    if caller.role == "wms":  # a warehouse sees returns it is receiving (or may receive)
        return bool(caller.locations)
    return caller.may_see_channel(header["channel"])


def get_return(caller: Caller, return_id: str) -> dict[str, Any]:
    record, ret = load_return(return_id)
    if not _may_see(caller, record.header, ret):
        raise NotFound(f"no return {return_id}")
    return return_view(ret)
