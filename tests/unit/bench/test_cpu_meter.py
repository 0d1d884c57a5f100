"""The benchmark's CPU meter: a worker's main thread apart from its other threads."""

from __future__ import annotations

import os
import threading
import time

import pytest

from benchmarks.harness import CpuMeter


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_a_busy_thread_counts_for_the_process_not_for_its_main_thread() -> None:
    meter = CpuMeter()
    meter.pids["worker"] = os.getpid()
    meter.main_threads.add("worker")
    until = time.perf_counter() + 0.5

    def spin() -> None:
        while time.perf_counter() < until:
            pass

    before = meter.read()
    busy = threading.Thread(target=spin)
    busy.start()
    busy.join()  # the main thread sleeps in join meanwhile
    usage = CpuMeter.usage(before, meter.read())
    # Clock ticks of 10 ms, and a loaded machine may give the spinning thread half a core:
    # it is nearly all of the process's CPU, none of it the main thread's.
    assert usage["worker"] > 0.25
    assert usage["worker main"] < 0.1
    assert usage["worker"] - usage["worker main"] > 0.25
