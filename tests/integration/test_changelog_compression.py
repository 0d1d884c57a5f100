"""The changelog is stored compressed (SOCIALCARE_CHANGELOG_COMPRESSION=lz4), and a worker
with no local copy rebuilds the same state from it, on Apache Kafka.

Bytes are measured where they end up: the changelog partitions' segment files in the
broker's log directory, against the key and value bytes the worker says it wrote
(`socialcare_state_changelog_bytes_total`). The same events through an application with
`none` are the contrast that shows the setting is what shrinks them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from processor.settings import Settings
from processor.state.records import changelog_topic
from tests.integration.conftest import (
    Deployment,
    KafkaServer,
    Samples,
    WorkerProcess,
    processed_all,
    value,
    wait_until,
)
from tests.integration.test_crash_consistency import cumulative
from tests.integration.test_event_time_alignment import HOUR, history

pytestmark = pytest.mark.integration


def stored_bytes(log_dir: Path, app_id: str) -> int:
    """Bytes of the changelog's segment files (record batches as the broker keeps them)."""
    topic = changelog_topic(app_id)
    return sum(
        segment.stat().st_size
        for partition in log_dir.glob(f"{topic}-*")
        for segment in partition.glob("*.log")
    )


def settled(worker: WorkerProcess, events: int) -> Samples:
    """The worker's samples once it processed `events` and wrote nothing more for 2 s (or
    after 20 s: the clock's sweeps may go on writing a little)."""
    wait_until(lambda: processed_all(worker.scrape(), events), 120, "all events processed",
               worker.log_tail)  # fmt: skip
    last = -1.0
    for _ in range(10):
        samples = worker.scrape()
        written = value(samples, "socialcare_state_changelog_bytes_total")
        if written == last:
            break
        last = written
        time.sleep(2.0)
    return samples


def test_the_changelog_is_stored_compressed_and_a_fresh_worker_recovers_from_it(
    kafka_server: KafkaServer,
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    if kafka_server.log_dir is None:
        pytest.skip("SOCIALCARE_TEST_BOOTSTRAP: the broker's log directory is not ours to read")
    assert Settings.model_fields["changelog_compression"].default == "none"
    compressed = deployment_factory(partitions=4, SOCIALCARE_CHANGELOG_COMPRESSION="lz4")
    plain = compressed.sharing_topics()
    now = time.time()
    events = history(now - 2 * HOUR, now - HOUR, seed=31, rate=10.0)
    assert len(events) > 1000
    compressed.produce(events)
    lz4_worker = workers(compressed, name="lz4")
    none_worker = workers(plain, name="none", SOCIALCARE_CHANGELOG_COMPRESSION="none")
    lz4_worker.wait_ready()
    none_worker.wait_ready()
    lz4_samples = settled(lz4_worker, len(events))
    none_samples = settled(none_worker, len(events))
    lz4_worker.stop()
    none_worker.stop()

    written = {
        "lz4": value(lz4_samples, "socialcare_state_changelog_bytes_total"),
        "none": value(none_samples, "socialcare_state_changelog_bytes_total"),
    }
    stored = {
        "lz4": stored_bytes(kafka_server.log_dir, compressed.app_id),
        "none": stored_bytes(kafka_server.log_dir, plain.app_id),
    }
    print(f"changelog key and value bytes {written}, stored {stored}")
    # Uncompressed, the broker keeps more than the keys and values (batch and record
    # headers); lz4 keeps a fraction of them (about a fifth of this JSON).
    assert stored["none"] >= written["none"] > 0
    assert stored["lz4"] < 0.5 * written["lz4"]
    # Both applications counted the same events the same way.
    assert cumulative(lz4_samples) == cumulative(none_samples)
    assert cumulative(lz4_samples)

    # A worker without the local copy (another data directory) reads the compressed
    # changelog back: the same totals, nothing counted again.
    restored = workers(compressed, name="restored",
                       SOCIALCARE_DATA_DIR=str(tmp_path / "restored-data"))  # fmt: skip
    restored.wait_ready()
    wait_until(lambda: cumulative(restored.scrape()) == cumulative(lz4_samples), 120,
               "the restored totals", restored.log_tail)  # fmt: skip
    assert value(restored.scrape(), "socialcare_events_processed_total") == 0
