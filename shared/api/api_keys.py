"""API keys: the secret maps the SHA-256 of each key to the principal it stands for.

Every API function reads the map (each execution environment keeps it for five minutes),
so a revoked or added key takes effect everywhere within that time."""

from __future__ import annotations

import hashlib
import hmac
import json

from pydantic import BaseModel, ValidationError

from shared.aws import client
from shared.settings import get_settings
from shared.warm_cache import warm

_CACHE_SECONDS = 300


class Principal(BaseModel):
    key_sha256: str
    principal_id: str
    role: str
    channel: str | None = None
    locations: list[str] = []

    def context(self) -> dict[str, str]:
        """The request context's ``authorizer`` entry, shaped as API Gateway passed a Lambda
        authorizer's context (strings only): ``shared.api.caller`` reads it."""
        return {
            "principal_id": self.principal_id,
            "role": self.role,
            "channel": self.channel or "",
            "locations": ",".join(self.locations),
        }


@warm("api_keys", ttl_seconds=_CACHE_SECONDS)
def _principals() -> dict[str, Principal]:
    raw = client("secretsmanager").get_secret_value(SecretId=get_settings().api_keys_secret_id)["SecretString"]
    records = json.loads(raw).get("keys", [])
    principals = {}
    for record in records:
        try:
            p = Principal.model_validate(record)
        except ValidationError:
            continue  # one bad record must not lock every caller out
        principals[p.key_sha256] = p
    return principals


def principal_for(api_key: str | None) -> Principal | None:
    """The principal of a key, or None. Keys are compared by hash, in constant time."""
    if not api_key:
        return None
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    for known, principal in _principals.get().items():
        if hmac.compare_digest(known, digest):
            return principal
    return None
