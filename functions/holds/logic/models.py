"""Request bodies of the hold endpoints."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from functions.holds.rules.policy import HoldReason
from shared.api.validation import Text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HoldRequest(_Model):
    reason: HoldReason
    note: Text | None = None
    expires_at: AwareDatetime | None = Field(
        default=None, description="when the hold's expiry action (the hold policy's, per reason) applies"
    )


class ReleaseRequest(_Model):
    note: Text | None = None
