"""The stored hold policy (``CONFIG`` / ``HOLDS``), warm for a minute like every operator config."""

from __future__ import annotations

from functions.holds.rules.policy import HoldPolicy
from shared.operator_config import OperatorConfig
from shared.table import Table

_config = OperatorConfig("hold_policy", "HOLDS", HoldPolicy)


def load_policy() -> HoldPolicy:
    return _config.load()


def save_policy(policy: HoldPolicy, table: Table | None = None) -> HoldPolicy:
    return _config.save(policy, table)
