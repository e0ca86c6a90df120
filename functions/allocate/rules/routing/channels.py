"""Which locations a channel may use, from the merchant's rules of locations and groups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from functions.allocate.rules.routing.model import Site


def resolve_allowed(
    channel: str,
    rules_by_channel: Mapping[str, Mapping[str, Iterable[str]]],
    sites: Iterable[Site],
) -> frozenset[str] | None:
    """Location ids for ``RoutingRules.allowed``.

    ``rules_by_channel`` maps a channel to ``{"locations": [...], "groups": [...]}``; a
    location is allowed when listed or in a listed group. A channel without rules may use
    every location (None).
    """
    rule = rules_by_channel.get(channel)
    if rule is None:
        return None
    listed = frozenset(rule.get("locations", ()))
    groups = frozenset(rule.get("groups", ()))
    return frozenset(s.location_id for s in sites if s.location_id in listed or s.groups & groups)
