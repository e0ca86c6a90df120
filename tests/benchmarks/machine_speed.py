"""How fast the machine runs Python while a benchmark runs: a fixed workload, timed again and again.

The shared cores the benchmarks run on change speed from minute to minute: on an idle
machine the same workload took 28 to 57 ms of CPU within one minute, and two lifecycle
runs of the same code a minute apart differed by half. CPU figures of runs taken at
different times compare only next to the speed each was taken at, so a run records the
median of its samples and its CPU per order in units of the workload as well.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from typing import Any

# A little of what the emulator and the handlers do most: JSON in and out, dicts, sorting.
_DOCUMENT = {
    "order_id": "ord_reference",
    "lines": [{"sku": f"SKU-{i}", "quantity": i, "unit_price": 1999 * i, "tags": ["a", "b"]} for i in range(40)],
}
_ROUNDS = 200


def reference_workload_ms() -> float:
    """CPU milliseconds of the reference workload on this thread, now."""
    started = time.thread_time()
    for _ in range(_ROUNDS):
        decoded = json.loads(json.dumps(_DOCUMENT))
        sorted(decoded["lines"], key=lambda line: -line["unit_price"])
        str(decoded)
    return (time.thread_time() - started) * 1000


class SpeedSampler:
    """Times the reference workload every ``interval`` seconds on a thread of its own."""

    def __init__(self, interval: float = 2.0):
        self.interval = interval
        self.samples: list[float] = []
        self.cpu_seconds = 0.0  # the sampler's own CPU, for the caller to keep apart
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="machine-speed", daemon=True)

    def __enter__(self) -> SpeedSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append(reference_workload_ms())
            self.cpu_seconds = time.thread_time()
            if self._stop.wait(self.interval):
                return

    def summary(self) -> dict[str, Any]:
        return {
            "reference_workload_ms_median": statistics.median(self.samples),
            "reference_workload_ms_range": [min(self.samples), max(self.samples)],
            "samples": len(self.samples),
        }
