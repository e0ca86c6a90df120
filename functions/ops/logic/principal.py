"""Who the caller is, as its API key resolved: what a client (the console) shows follows it."""

from __future__ import annotations

from pydantic import BaseModel

from shared.api.caller import Caller


class PrincipalView(BaseModel):
    principal_id: str
    # channel | wms | agent | ops
    role: str
    channel: str | None = None
    locations: list[str] = []


def who_am_i(caller: Caller) -> PrincipalView:
    return PrincipalView(
        principal_id=caller.principal_id, role=caller.role, channel=caller.channel, locations=list(caller.locations)
    )
