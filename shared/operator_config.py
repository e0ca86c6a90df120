"""Configuration operators edit through the API (routing policy, change policy), one table item each.

Each is validated by its pydantic model on read (fields the model no longer has are
ignored) and kept warm for a minute (the setting
``operator_config_cache_seconds``), so a policy change reaches every warm function soon
without a read per request
(``OPERATOR_CONFIG_CACHE_SECONDS``; the local stack's tests see a change at once).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

from shared.clock import now_iso
from shared.settings import get_settings
from shared.table import Table
from shared.warm_cache import WarmCache

M = TypeVar("M", bound=BaseModel)


class OperatorConfig(Generic[M]):
    def __init__(self, name: str, sk: str, model: type[M]) -> None:
        self.key = ("CONFIG", sk)
        self.model = model
        self._warm: WarmCache[M] = WarmCache(
            name, lambda _: self._read(), ttl_seconds=lambda: get_settings().operator_config_cache_seconds
        )

    def _read(self) -> M:
        item = Table().get(*self.key, consistent=False) or {}
        return self.model.model_validate({k: v for k, v in item.items() if k in self.model.model_fields})

    def load(self) -> M:
        return self._warm.get()

    def save(self, value: M, table: Table | None = None) -> M:
        stored = value.model_copy(update={"updated_at": now_iso()})
        (table or Table()).put(
            {"pk": self.key[0], "sk": self.key[1], "type": "config", **stored.model_dump(mode="json")}
        )
        self._warm.clear()
        return stored
