"""The worker's input consumer fetches with the configured wait (processor.stream.fetch).

Faust's aiokafka driver fixes `fetch_max_wait_ms=1500` and leaves `fetch_min_bytes` at 1;
the worker's consumer thread sets both from `SOCIALCARE_FETCH_MAX_WAIT_SECONDS` and
`SOCIALCARE_FETCH_MIN_BYTES` before aiokafka starts the consumer (and builds its fetcher
from them). The effect on a real broker is measured by `tests/integration/
test_fetch_wait.py` (batch sizes) and `python -m benchmarks.fetch_wait` (CPU, latency).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiokafka
import pytest

from processor.settings import Settings
from processor.stream.fetch import App, FetchWait, WaitingConsumerThread, with_fetch_wait
from processor.stream.fetch_times import FetchTimes, track_fetch_times
from processor.stream.worker import Worker


def consumer_of(app: App) -> aiokafka.AIOKafkaConsumer:
    """The aiokafka consumer the app's consumer thread would start (not started)."""

    async def create() -> aiokafka.AIOKafkaConsumer:
        thread = app.consumer._thread  # type: ignore[attr-defined]
        assert isinstance(thread, WaitingConsumerThread)
        consumer = thread._create_worker_consumer(app.transport)
        await consumer._client.close()  # nothing was connected; quiets its finaliser
        return consumer

    return asyncio.run(create())


def test_the_worker_consumer_fetches_with_the_settings(tmp_path: Path) -> None:
    settings = Settings.model_validate({
        "data_dir": tmp_path, "fetch_max_wait_seconds": 0.25, "fetch_min_bytes": 65_536,
    })  # fmt: skip
    worker = Worker(settings)
    try:
        consumer = consumer_of(worker.app)
    finally:
        worker.local.close()
    assert consumer._fetch_max_wait_ms == 250
    assert consumer._fetch_min_bytes == 65_536
    # The rest is Faust's: its other fetch settings are left alone.
    assert consumer._max_poll_records == settings.batch_max_events


def test_by_default_a_fetch_waits_50_ms_for_a_mebibyte(tmp_path: Path) -> None:
    worker = Worker(Settings.model_validate({"data_dir": tmp_path}))
    try:
        consumer = consumer_of(worker.app)
    finally:
        worker.local.close()
    assert (consumer._fetch_max_wait_ms, consumer._fetch_min_bytes) == (50, 1_048_576)


def test_without_a_fetch_wait_faust_fetches_as_it_does() -> None:
    app = App("fetch-wait-test", broker="kafka://127.0.0.1:1", table_standby_replicas=1)
    consumer = consumer_of(app)
    assert (consumer._fetch_max_wait_ms, consumer._fetch_min_bytes) == (1500, 1)


def test_a_wait_below_a_millisecond_is_one_millisecond() -> None:
    async def check() -> tuple[int, int]:
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
        with_fetch_wait(consumer, FetchWait(0.0001, 1))
        await consumer._client.close()
        return consumer._fetch_max_wait_ms, consumer._fetch_min_bytes

    assert asyncio.run(check()) == (1, 1)


def test_an_aiokafka_without_the_attributes_is_refused_with_what_to_do() -> None:
    class Other:
        pass

    with pytest.raises(RuntimeError, match="fetch wait cannot be set; install the aiokafka"):
        with_fetch_wait(Other(), FetchWait(0.05, 1))  # type: ignore[arg-type]


def test_a_fetcher_without_its_request_handler_is_refused_with_what_to_do() -> None:
    # The fetch times (processor.stream.fetch_times) wrap aiokafka's private request
    # handler; a version without it must stop the worker at start, not fetch untracked
    # (the alignment would then hold every record until its max wait).
    class Other:
        pass

    with pytest.raises(RuntimeError, match="cannot be followed; install the aiokafka"):
        track_fetch_times(Other(), FetchTimes())


def test_the_pinned_fetcher_has_the_request_handler_the_times_wrap() -> None:
    from aiokafka.consumer.fetcher import Fetcher

    assert callable(Fetcher._proc_fetch_request)
