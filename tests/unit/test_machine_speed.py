"""The benchmarks' measure of the machine's speed during a run."""

from __future__ import annotations

import time

from tests.benchmarks.machine_speed import SpeedSampler


def test_the_sampler_times_the_workload_until_the_run_ends_and_keeps_its_own_cpu_apart() -> None:
    with SpeedSampler(interval=0.05) as speed:
        time.sleep(0.3)
    count = len(speed.samples)
    assert count >= 2
    assert not speed._thread.is_alive()
    time.sleep(0.1)
    assert len(speed.samples) == count  # stopped with the run
    # Its CPU is at least the workloads it timed: the run subtracts it from the emulator's.
    assert speed.cpu_seconds >= sum(speed.samples) / 1000 * 0.99
    summary = speed.summary()
    assert summary["samples"] == count
    low, high = summary["reference_workload_ms_range"]
    assert 0 < low <= summary["reference_workload_ms_median"] <= high
