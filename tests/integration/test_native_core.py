"""The native partition core in a real worker on Apache Kafka (`SOCIALCARE_CORE=native`).

A worker on the native core is killed with SIGKILL half way through a backlog, twice; the
worker that takes up its local copy and the changelog (written by the native core, its
documents stored as the JSON it wrote) must end with the totals of `tests/sla_reference.py`
(computed from the events alone) and of a worker on the Python core that read the same
topics without a crash: nothing lost, nothing counted twice, the same numbers either way
(the predictions on, their own series left out: an online model's predictions depend on
the order a restart lets it meet answers, see `test_crash_consistency.py`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, value
from tests.integration.test_crash_consistency import agree_with, kill_after
from tests.integration.test_event_time_alignment import HOUR, history
from tests.sla_reference import expected_figures

pytestmark = pytest.mark.integration


def test_a_native_worker_killed_twice_agrees_with_a_python_worker(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    pytest.importorskip("socialcare_native", reason="the native core is not built")
    seed = random.randrange(1_000_000)
    print(f"kill points from seed {seed}")
    rng = random.Random(seed)
    deployment = deployment_factory(partitions=4, SOCIALCARE_BATCH_MAX_EVENTS="200")
    now = time.time()
    events = history(now - 4.5 * HOUR, now - HOUR, seed=21, rate=10.0)
    thirds = [events[n * len(events) // 3 : (n + 1) * len(events) // 3] for n in range(3)]
    native = {"SOCIALCARE_CORE": "native", "SOCIALCARE_DATA_DIR": str(tmp_path / "native")}
    for round_number in range(2):
        deployment.produce(thirds[round_number])
        worker = workers(deployment, name=f"native-{round_number}", **native)
        worker.wait_ready()
        kill_after(worker, rng.randrange(100, len(thirds[round_number]) // 2))
        print(f"round {round_number}: killed at {worker.log_tail(3)}")
    deployment.produce(thirds[2])
    clean = workers(deployment.sharing_topics(), name="python", SOCIALCARE_CORE="python")
    survivor = workers(deployment, name="native-after", **native)
    survivor.wait_ready()
    assert "4 from the local copy" in survivor.log_path.read_text(), survivor.log_tail()
    reference = expected_figures(events, time.time())
    agree_with(survivor.scrape, reference, clean.scrape, [survivor.log_tail, clean.log_tail])
    samples = survivor.scrape()
    assert value(samples, "socialcare_events_processed_total", outcome="duplicate") == 0
    assert value(samples, "socialcare_processing_errors_total") == 0
    assert deployment.dead_letters(expected=0, timeout=3.0) == []
