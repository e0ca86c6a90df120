"""Who is calling: the principal of its API key, in the request context (``shared.api.authentication``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from shared.errors import Forbidden, Unauthorized

Role = Literal["channel", "wms", "agent", "ops"]


class Caller(BaseModel):
    principal_id: str
    role: Role
    channel: str | None = None
    locations: tuple[str, ...] = ()

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(f"role {self.role!r} may not do this")

    def may_see_channel(self, channel: str) -> bool:
        """Channels see only what they created; agents and operators see everything."""
        if self.role in ("agent", "ops"):
            return True
        return self.role == "channel" and self.channel == channel


def caller_from_context(authorizer: dict[str, Any] | None) -> Caller:
    """Context values are strings, as API Gateway passed an authorizer's; locations are comma-joined."""
    if not authorizer or not authorizer.get("role"):
        raise Unauthorized("no credentials")
    locations = tuple(x for x in str(authorizer.get("locations") or "").split(",") if x)
    return Caller(
        principal_id=str(authorizer.get("principal_id") or authorizer.get("principalId") or ""),
        role=authorizer["role"],
        channel=authorizer.get("channel") or None,
        locations=locations,
    )
