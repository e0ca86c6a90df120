"""Cold-start import time of every handler, measured with ``python -X importtime``."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from typing import Any

from infra import manifest

_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def import_ms(module: str) -> float:
    """Cumulative microseconds of the module's own import line, as milliseconds."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=manifest.ROOT,
    ).stderr
    for line in out.splitlines():
        m = _LINE.match(line)
        if m and m.group(4) == module:
            return int(m.group(2)) / 1000
    raise RuntimeError(f"no import line for {module}")


def bench_imports(runs: int = 3) -> list[dict[str, Any]]:
    rows = []
    for spec in manifest.FUNCTIONS:
        module = spec.handler.rsplit(".", 1)[0]
        samples = [import_ms(module) for _ in range(runs)]
        rows.append({"function": spec.name, "module": module, "import_ms_median": statistics.median(samples)})
    return rows
