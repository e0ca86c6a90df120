"""The all-orders index's shard key: stable across processes, spread evenly, and the only
``gsi3pk`` an order header is written with."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from shared.ids import new_id
from shared.order import keys

ROOT = Path(__file__).resolve().parents[2]
# Pinned: a change of the function moves every order to another partition, which needs the
# migration of the index, not a silent redeploy.
PINNED = {
    "ord_01JD0000000000000000000000": "ORDERS#07",
    "ord_x": "ORDERS#03",
    "ord_01KBF3V0Q5RZ8Y2C1M7T4N6W9A": "ORDERS#14",
}


def test_the_shard_of_an_order_is_pinned():
    assert {order_id: keys.order_index_pk(order_id) for order_id in PINNED} == PINNED


def test_the_shard_is_the_same_in_every_process_whatever_its_hash_seed():
    # Python salts str hashes per process: a shard taken from hash() would differ here.
    script = "from shared.order import keys; import sys; print(*(keys.order_index_pk(i) for i in sys.argv[1:]))"
    for seed in ("1", "2", "random"):
        run = subprocess.run(
            [sys.executable, "-c", script, *PINNED],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        assert run.stdout.split() == list(PINNED.values())


def test_the_shard_key_names_one_of_the_partitions_readers_read():
    partitions = keys.order_index_pks()
    assert len(partitions) == keys.ORDER_INDEX_SHARDS + 1 and partitions[-1] == keys.LEGACY_ORDER_INDEX_PK
    assert len(set(partitions)) == len(partitions)
    for n in range(2000):
        pk = keys.order_index_pk(f"ord_{n}")
        assert pk in partitions and pk != keys.LEGACY_ORDER_INDEX_PK


def test_new_order_ids_spread_evenly_over_the_shards():
    # Ids made in one burst share their time prefix: the spread must come from the whole id.
    n = 32_000
    counts = Counter(keys.order_index_shard(new_id("ord")) for _ in range(n))
    assert set(counts) == set(range(keys.ORDER_INDEX_SHARDS))
    mean = n / keys.ORDER_INDEX_SHARDS
    # Binomial standard deviation here is about 43: 10% of the mean is over 4.5 of them.
    assert all(abs(c - mean) < 0.1 * mean for c in counts.values()), counts
    # And sequential ids (an import's numbering) spread as well.
    sequential = Counter(keys.order_index_shard(f"ord_{i:08d}") for i in range(n))
    assert all(abs(c - mean) < 0.1 * mean for c in sequential.values()), sequential


_SET_GSI3PK = re.compile(r"\s*SET\b.*\bgsi3pk\s*=", re.IGNORECASE)


def _writes_of_gsi3pk(path: Path) -> list[str]:
    """Where the module gives ``gsi3pk`` a value (a dict key or an update's SET), as text."""
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "gsi3pk":
                    found.append(ast.unparse(value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _SET_GSI3PK.match(node.value):
            found.append(node.value)
    return found


def test_no_writer_of_an_order_header_writes_the_unsharded_key():
    """Every ``gsi3pk`` an order header gets is ``order_index_pk``; the legacy key is read
    (and migrated away from) only."""
    sources = [p for top in ("functions", "shared", "demo", "cli", "infra") for p in (ROOT / top).rglob("*.py")]
    header_writers = {}
    for path in sources:
        text = path.read_text()
        rel = str(path.relative_to(ROOT))
        assert "ALL_ORDERS" not in text, rel
        assert '"ORDERS"' not in text or rel == "shared/order/keys.py", rel
        writes = _writes_of_gsi3pk(path)
        if writes:
            header_writers[rel] = writes
    # The writers of gsi3pk: order headers (capture, the migration) and other items' own keys.
    assert header_writers["functions/capture/logic/capture.py"] == ["keys.order_index_pk(order_id)"]
    assert header_writers["functions/capture/store.py"] == ["SET gsi3pk = :shard"]
    others = {rel: w for rel, w in header_writers.items() if not rel.startswith("functions/capture/")}
    for rel, writes in others.items():
        for write in writes:
            assert "ORDERS" not in write and "LEGACY" not in write, (rel, write)


def test_the_legacy_key_is_named_only_where_it_is_read_or_migrated():
    users = sorted(
        str(p.relative_to(ROOT))
        for top in ("functions", "shared", "demo", "cli", "infra")
        for p in (ROOT / top).rglob("*.py")
        if "LEGACY_ORDER_INDEX_PK" in p.read_text()
    )
    assert users == ["functions/capture/store.py", "shared/order/keys.py"]


def test_a_channel_s_shard_of_an_order_is_its_all_orders_shard():
    for order_id, pk in PINNED.items():
        assert keys.channel_index_pk("web", order_id) == "CHANNEL#web#" + pk.removeprefix("ORDERS#")
    partitions = keys.channel_index_pks("web")
    assert len(partitions) == keys.ORDER_INDEX_SHARDS + 1 and partitions[-1] == keys.legacy_channel_index_pk("web")
    assert all(keys.channel_index_pk("web", f"ord_{n}") in partitions[:-1] for n in range(500))


def test_a_location_s_work_shard_is_pinned_and_one_of_those_read():
    from functions.fulfill import store

    pinned = {"fo_x": "FOLOC#wh-east#00", "fo_01KBF3V0Q5RZ8Y2C1M7T4N6W9A": "FOLOC#wh-east#06"}
    assert {fo_id: store.location_index_pk("wh-east", fo_id) for fo_id in pinned} == pinned
    partitions = store.location_index_pks("wh-east")
    assert len(partitions) == store.LOCATION_INDEX_SHARDS + 1 and partitions[-1] == "FOLOC#wh-east"
    counts = Counter(store.location_index_pk("wh-east", new_id("fo")) for _ in range(8000))
    assert set(counts) == set(partitions[:-1])
    assert all(abs(c - 1000) < 150 for c in counts.values()), counts
