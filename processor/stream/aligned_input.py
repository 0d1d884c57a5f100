"""The agent's input, aligned: fetches in, batches in event-time order out.

The glue between the consumer (`processor.stream.fetch`) and `processor.stream.alignment`:
each record of a fetch is held (unacknowledged, so its offset is not committed) until the
aligner releases it and the pipeline has processed it and written its batch; then it is
acknowledged. Lag comes from the consumer's highwater against the last offset received,
when each topic-partition was asked and answered from `processor.stream.fetch_times`;
partitions too far ahead are paused. Clock ticks and customer contacts are not aligned:
they go to the pipeline with the batch (ticks run the sweep; contacts carry facts already
in event-time order per conversation, and their counts do not depend on the order).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial

from faust.types import TP, AppT

from processor.metrics.health import AlignmentSnapshot, HealthMetrics
from processor.settings import Settings
from processor.stream.alignment import Aligner, event_time_of
from processor.stream.fetch_times import FetchTimes
from processor.stream.interfaces import Message

log = logging.getLogger(__name__)

# How far the producers' clocks may be behind this worker's: a record's producer timestamp
# plus this is taken as a time it was on the broker by (`Aligner`, a jump far ahead).
PRODUCER_CLOCK_MARGIN_SECONDS = 2.0


class AlignedInput:
    """Holds the agent's events until every input topic of their partition allows them."""

    def __init__(
        self,
        app: AppT,
        settings: Settings,
        handle_batch: Callable[
            [list[Message]], Awaitable[tuple[frozenset[int], asyncio.Future[set[int]]]]
        ],
        acknowledge: Callable[[Iterable[Message]], None],
        health: HealthMetrics,
        fetch_times: FetchTimes,
    ) -> None:
        self.app = app
        self.fetch_times = fetch_times
        self.acknowledge = acknowledge
        self.settings = settings
        self.handle_batch = handle_batch
        self.health = health
        self.topics = tuple(settings.input_topics)
        self.aligner: Aligner[Message] = Aligner(
            self.topics,
            idle_wait=settings.alignment_idle_seconds,
            max_wait=settings.alignment_max_wait_seconds,
            max_buffered=settings.alignment_max_buffered,
            clock_margin=PRODUCER_CLOCK_MARGIN_SECONDS,
            settle=settings.alignment_settle_seconds,
        )
        self._received: dict[tuple[str, int], int] = {}  # last offset taken, per tp

    def waiting(self) -> bool:
        """Records are held back: a fetch with nothing new may still release some."""
        return self.aligner.waiting()

    async def take(self, messages: list[Message]) -> None:
        """One fetch: buffer, release what is ready, process, acknowledge."""
        ticks: list[Message] = []
        input_topics = self.settings.input_topics
        received = self._received
        add = self.aligner.add
        now = time.monotonic()
        to_now = now - time.time()  # wall clock -> monotonic
        # Per tp, when its records were on the broker by: the answer that brought them
        # (or a later one of the same tp), else now.
        on_broker: dict[tuple[str, int], float] = {}
        answered_at = self.fetch_times.answered_at
        for message in messages:
            if message.topic not in input_topics:
                ticks.append(message)
                continue
            place = (message.topic, message.partition)
            received[place] = message.offset
            fetched_at = on_broker.get(place)
            if fetched_at is None:
                fetched_at = on_broker[place] = min(answered_at(*place) or now, now)
            created = None if message.timestamp is None else message.timestamp + to_now
            add(message.topic, message.partition, event_time_of(message.value), message,
                fetched_at, created)  # fmt: skip
        released = self.aligner.release(now, self.lag_of, self.fetch_times.asked_at)
        if released.items or ticks:
            done = released.items + ticks
            self.health.batch_records.observe_many((len(done),))
            not_ours, written = await self.handle_batch(done)
            written.add_done_callback(partial(self._written, done, not_ours))
        if released.enforced:
            self.health.alignment_enforced.inc(released.enforced)
            log.warning(
                "%d records processed before every input topic of their partition was read "
                "(waited SOCIALCARE_ALIGNMENT_MAX_WAIT_SECONDS=%gs)",
                released.enforced, self.settings.alignment_max_wait_seconds,
            )  # fmt: skip
        self._apply_backpressure()

    def _written(
        self, done: list[Message], not_ours: frozenset[int], written: asyncio.Future[set[int]]
    ) -> None:
        """A batch's write completed: acknowledge its records. Not those of a partition
        whose batch was not written (its offset must not be committed, the partition's
        next owner processes it), nor any of a failed write (the next batch raises it)."""
        if written.cancelled() or written.exception() is not None:
            return
        lost = not_ours | written.result()
        self.acknowledge(done if not lost else [m for m in done if m.partition not in lost])

    def _apply_backpressure(self) -> None:
        pause, resume = self.aligner.backpressure()
        if not (pause or resume):
            return
        consumer = self.app.consumer
        if pause:
            consumer.pause_partitions({TP(topic, number) for topic, number in pause})
            log.info("paused %s: far ahead of the other input topics", sorted(pause))
        if resume:
            consumer.resume_partitions({TP(topic, number) for topic, number in resume})

    def lag_of(self, topic: str, partition: int) -> int | None:
        """Records of a topic-partition on the broker not yet taken; None if not known."""
        consumer = self.app.consumer
        tp = TP(topic, partition)
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not assigned (any more), or the consumer is starting
            return None
        if highwater is None:
            return None
        received = self._received.get((topic, partition))
        if received is not None:
            return max(0, highwater - (received + 1))
        # Faust keeps no public accessor for the committed offset.
        committed: dict[TP, int | None] = getattr(consumer, "_committed_offset", {})
        start = committed.get(tp)
        if start is None:
            return 0 if highwater == 0 else None
        return max(0, highwater - start)

    def catching_up(self, partition: int) -> bool:
        """Records of the partition not processed yet: buffered here or still on the broker."""
        if self.aligner.buffered(partition):
            return True
        return any(self.lag_of(topic, partition) != 0 for topic in self.topics)

    def revoke(self, partitions: set[int]) -> None:
        """Forget what was buffered for partitions gone: not acked, their owner reads it."""
        dropped = self.aligner.drop(partitions)
        for topic, number in list(self._received):
            if number in partitions:
                del self._received[(topic, number)]
        if dropped:
            log.info("dropped %d buffered records of partitions gone", len(dropped))

    def unprocessed(self, partitions: set[int]) -> int:
        """Input records of the partitions not processed yet: on the broker (the known
        lag) or fetched and held back here."""
        on_broker = sum(self.lags(partitions).values())
        return on_broker + sum(self.aligner.buffered(partition) for partition in partitions)

    def lags(self, partitions: set[int]) -> dict[str, int]:
        """Per input topic, the known lag summed over the partitions."""
        totals = {topic: 0 for topic in self.topics}
        for topic in self.topics:
            for partition in partitions:
                totals[topic] += self.lag_of(topic, partition) or 0
        return totals

    def snapshot(self, partitions: set[int]) -> AlignmentSnapshot:
        return AlignmentSnapshot(
            buffered={partition: self.aligner.buffered(partition) for partition in partitions},
            paused=len(self.aligner.paused),
            idle=self.aligner.idle_topics(self.lag_of),
            catching_up=sum(1 for partition in partitions if self.catching_up(partition)),
        )
