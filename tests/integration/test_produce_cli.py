"""`socialcare produce FILE` routes events to their topics; unroutable lines are reported."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile, to_json_lines
from tests.integration.conftest import Deployment, WorkerProcess, processed_all, value, wait_until

pytestmark = pytest.mark.integration


def test_produce_file_and_exposition_format(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    deployment = deployment_factory(partitions=3, SOCIALCARE_CLOCK="event")
    worker = workers(deployment)
    worker.wait_ready()
    start = time.time() - 7200
    events = SyntheticTraffic(start, seed=3, profile=TrafficProfile(conversations_per_minute=6))
    batch = events.advance(start + 1800)
    lines = list(to_json_lines(batch))
    # Line numbers of the two unroutable lines once inserted: 3 and 6.
    lines.insert(2, "{not json\n")
    lines.insert(5, '{"type": "tweet", "conversation_id": "x"}\n')
    lines.insert(7, "\n")  # blank lines are skipped
    path = tmp_path / "events.jsonl"
    path.write_text("".join(lines))

    result = deployment.cli("produce", str(path))
    assert result.returncode == 1, result.stderr
    assert "line 3:" in result.stderr and "line 6:" in result.stderr
    assert f"sent {len(batch)} events" in result.stderr
    by_type = Counter(str(event["type"]) for event in batch)
    assert f"{deployment.topic_for('mention')}: {by_type['mention']}" in result.stderr

    wait_until(
        lambda: processed_all(worker.scrape(), len(batch)),
        60, "every produced event processed", worker.log_tail,
    )  # fmt: skip
    metrics = worker.scrape()
    assert value(metrics, "socialcare_mentions_total") == by_type["mention"]
    assert value(metrics, "socialcare_events_processed_total", outcome="counted") == len(batch)

    # The exposition passes Prometheus' own linter.
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install -y prometheus; .ci/run does)")
    check = subprocess.run(
        [promtool, "check", "metrics"], input=worker.raw(), capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert check.returncode == 0 and check.stdout.strip() == "", check.stdout + check.stderr
