"""Write sharding: which of a fixed number of partitions a key's writes go to.

A hot partition key (one index partition, one day's read model, one SKU's counter) is
split into ``shards`` partitions by a digest of something that spreads the writes (an
order id). The digest is the same in every process (Python's ``hash`` of a string is
salted per process), so one order always lands in the same shard and a re-projection
moves its own contribution.
"""

from __future__ import annotations

import hashlib


def shard_of(key: str, shards: int) -> int:
    """A stable shard number in ``range(shards)`` for ``key``."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def sharded_key(base: str, key: str, shards: int) -> str:
    """The partition of ``base``, written in ``shards`` partitions, that ``key``'s writes go to."""
    return f"{base}#{shard_of(key, shards):02d}"


def every_shard(base: str, shards: int) -> list[str]:
    """Every partition a reader of ``base`` queries: its shards, then ``base`` itself, where
    items written before the sharding stay until their migration moves them."""
    return [f"{base}#{n:02d}" for n in range(shards)] + [base]
