"""The input topics' records handed to the agent a fetch at a time, below Faust's per-record work.

Faust delivers each record on its own: two tasks per record in its fetch loop
(`wait_first`), a lock, an `Event`, a queue hand-off to the stream, an ack. That is about
250 µs per record on this machine, the whole cost of an agent that does nothing. The worker
needs none of it per record: it aligns, processes and checkpoints whole batches. So this
consumer hands the records of the routed topics over in one piece per fetch (a `Fetched`,
through a Faust channel the agent reads: one Faust event per fetch), and takes their
acknowledgements a batch at a time. Everything else stays Faust's: the consumer group and
its rebalances, pausing, seeking to the committed offsets, the periodic offset commit and
the monitor. The bookkeeping Faust's fetch loop does per record is kept per fetch: the read
offset (records older than a seek are dropped), the gaps that transaction markers leave in
the offsets (so the commit can pass them), the stream's last inbound time (Faust's
"stream is not progressing" check). Records of other topics take Faust's own path.

The fetch itself waits on the broker for `FetchWait` (`SOCIALCARE_FETCH_MAX_WAIT_SECONDS`,
`SOCIALCARE_FETCH_MIN_BYTES`): each batch has costs of its own (a Redis round trip, the
sweep and the changelog's bookkeeping of each partition it touched, the consumer's and
the event loop's hand-offs), and live traffic fetched as it arrives paid them every few
events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import aiokafka
import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, ConsumerT, TransportT
from faust.types import Message as FaustMessage
from faust.types.tuples import ack_lock
from faust.web import Web
from faust.web.drivers import aiohttp as faust_aiohttp
from intervaltree import IntervalTree
from mode.utils.futures import notify

from processor.settings import Settings
from processor.stream.fetch_times import FetchTimes, track_fetch_times
from processor.stream.interfaces import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Fetched:
    """The routed topics' records of one fetch, in fetch order, and the consumer generation
    they were fetched in (records of an earlier generation are not processed: the
    partitions were sought back to their committed offsets since)."""

    messages: list[Message]
    generation: int


@dataclass(frozen=True)
class FetchWait:
    """How long the broker may hold the input consumer's fetch for more records, and how
    many bytes end the wait sooner (Kafka's `fetch.max.wait.ms`, `fetch.min.bytes`)."""

    max_wait_seconds: float
    min_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> FetchWait:
        return cls(settings.fetch_max_wait_seconds, settings.fetch_min_bytes)

    @property
    def max_wait_ms(self) -> int:
        """As Kafka's clients take it: whole milliseconds, at least one."""
        return max(1, round(self.max_wait_seconds * 1000))


@dataclass(frozen=True)
class Route:
    """Which topics go around Faust's per-record path, and where their fetches go."""

    topics: frozenset[str]
    deliver: Callable[[Fetched], Awaitable[None]]


def message_of(record: Any) -> Message:
    """An aiokafka `ConsumerRecord` as the pipeline's `Message` (timestamp in seconds)."""
    timestamp = record.timestamp
    return Message(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        timestamp=None if timestamp is None else timestamp / 1000.0,
    )


class WaitingConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, its aiokafka consumer fetching with the app's `FetchWait`.

    Faust fixes `fetch_max_wait_ms=1500` and leaves `fetch_min_bytes` at aiokafka's 1: a
    fetch is answered as soon as any record is there (on Tansu only after about half the
    wait, docs/benchmarks.md). aiokafka hands both to its fetcher when the consumer starts,
    from the attributes its constructor keeps; they are set here, before that start.
    """

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        wait = cast(FetchWait | None, getattr(self.app, "fetch_wait", None))
        if wait is not None:
            with_fetch_wait(consumer, wait)
        return consumer

    async def on_start(self) -> None:
        # aiokafka builds its fetcher in `start`; the first fetch waits for the group's
        # assignment, which comes after (Faust subscribes once the thread has started).
        await super().on_start()
        times = cast(FetchTimes | None, getattr(self.app, "fetch_times", None))
        if times is not None:
            track_fetch_times(self._ensure_consumer()._fetcher, times)


def with_fetch_wait(consumer: aiokafka.AIOKafkaConsumer, wait: FetchWait) -> None:
    """Set a consumer's fetch wait before it starts (aiokafka has no setter for it)."""
    for attribute in ("_fetch_max_wait_ms", "_fetch_min_bytes"):
        if not hasattr(consumer, attribute):
            raise RuntimeError(
                f"aiokafka {aiokafka.__version__} keeps no {attribute}: the fetch wait "
                "cannot be set; install the aiokafka version pyproject.toml pins"
            )
    consumer._fetch_max_wait_ms = wait.max_wait_ms
    consumer._fetch_min_bytes = wait.min_bytes


class BatchConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, fetches of the routed topics delivered whole."""

    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return WaitingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def route(self) -> Route | None:
        return cast(Route | None, getattr(self.app, "route", None))

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, FaustMessage]]:
        route = self.route()
        if route is None:
            async for item in super().getmany(timeout):
                yield item
            return
        records, active = await self._wait_next_records(timeout)
        generation = self.app.consumer_generation_id
        if records is None or self.should_stop:
            return
        if not self.flow_active:
            # As Faust: a fetch that raced a stop of the flow is dropped, reading resumes
            # from the committed offsets.
            await self.perform_seek()
            return
        batch: list[Message] = []
        others: dict[TP, list[Any]] = {}
        monitor = self.app.monitor
        now = time.monotonic()
        for tp, tp_records in records.items():
            if tp.topic not in route.topics:
                if active is None or tp in active or tp in self._buffered_partitions:
                    others[tp] = tp_records
                continue
            # Not filtered by the active partitions, as Faust's loop does: that set is the
            # consumer's own, and a partition the alignment paused while this fetch was on
            # its way left it, so its records (already past aiokafka's position) were
            # dropped, not read again until a rebalance (500 records in a test's burst).
            # A fetch of the current generation holds only assigned partitions' records.
            self._take(tp, tp_records, batch)
            if monitor is not None:
                monitor.stream_inbound_time[tp] = now
                monitor.track_tp_end_offset(tp, self.highwater(tp))
        if self.app.consumer_generation_id != generation:
            return  # rebalanced meanwhile: the new generation reads them again
        # Delivered even when empty: records held for alignment may be due by now.
        await route.deliver(Fetched(batch, generation))
        to_message = self._to_message
        for tp, record in self.scheduler.iterate(others):
            yield tp, to_message(tp, record)

    def _take(self, tp: TP, records: list[Any], batch: list[Message]) -> None:
        """Records past the read offset into the batch; gaps in the offsets recorded."""
        read = self._read_offset[tp]
        for record in records:
            offset = record.offset
            if read is not None:
                if offset < read:
                    continue  # fetched before a seek back: read again from there
                if offset > read + 1:
                    # Offsets no record will come for (transaction markers, compaction):
                    # acknowledged in advance so the commit can pass them.
                    add_gap(self._gap[tp], self._committed_offset[tp], read + 1, offset - 1)
            batch.append(message_of(record))
            read = offset
        self._read_offset[tp] = read

    def ack_messages(self, messages: Iterable[Message]) -> None:
        """Processed and written: their offsets may be committed (Faust's `ack`, per batch)."""
        acking = self.app.topics.acks_enabled_for
        with ack_lock:
            for message in messages:
                if not acking(message.topic):
                    continue
                tp = TP(message.topic, message.partition)
                committed = self._committed_offset[tp]
                offset = message.offset
                if committed is not None and offset < committed:
                    continue
                acked_index = self._acked_index[tp]
                if offset not in acked_index:
                    acked_index.add(offset)
                    self._acked[tp].append(offset)
                    self._n_acked += 1
            notify(self._waiting_for_ack)


def add_gap(gaps: IntervalTree, committed: int | None, first: int, last: int) -> None:
    """Offsets `first` to `last` of a partition hold no record: note them in Faust's gaps
    (which its offset commit passes), from past the committed offset on.

    Faust's `_add_gap` yields to the event loop and merges the partition's whole tree for
    each gap: every transaction marker of the customer-contacts topic, several a second
    live, until the next offset commit chops them off (3.4 % of a live worker's CPU at 500
    events/s, docs/benchmarks.md). Gaps met in offset order lie past the ones before, so
    the tree is merged only when a gap overlaps one already there (read again after a
    seek back); Faust's commit reads the gaps in order of their start either way.
    """
    if committed is not None:
        first = max(first, committed + 1)
    if first > last:
        return
    overlapping = gaps.overlaps(first, last + 1)
    gaps.addi(first, last + 1)
    if overlapping:
        gaps.merge_overlaps()


class BatchTransport(aiokafka_driver.Transport):
    Consumer = BatchConsumer


class PagesOnlyWeb(faust_aiohttp.Web):
    """Faust's web server without Faust's own pages: the tables' contents (`/table/...`),
    the assignment (`/router/...`), statistics and graphs are not for anyone who can reach
    the port. The worker adds `/metrics` and `/ready` itself."""

    default_blueprints: ClassVar[list[Any]] = []
    production_blueprints: ClassVar[list[Any]] = []
    debug_blueprints: ClassVar[list[Any]] = []
    optional_blueprints: ClassVar[list[Any]] = []


class App(faust.App):
    """A Faust app whose consumer delivers the records of `route.topics` a fetch at a time
    and fetches with `fetch_wait`, noting its fetches' times in `fetch_times`, serving only
    the pages the worker adds."""

    route: Route | None = None
    fetch_wait: FetchWait | None = None
    fetch_times: FetchTimes | None = None

    def _new_transport(self) -> TransportT:
        return BatchTransport(self.conf.broker_consumer, self)

    def _new_web(self) -> Web:
        return PagesOnlyWeb(self)

    def batch_consumer(self) -> BatchConsumer:
        consumer: ConsumerT = self.consumer
        return cast(BatchConsumer, consumer)
