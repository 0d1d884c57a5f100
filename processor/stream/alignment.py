"""Aligned input: the co-partitioned topics of a partition handed over in event-time order.

Faust's consumer reads the input topics at their own paces (its scheduler goes round-robin
over topics, fetches up to a megabyte per topic-partition), so without alignment a
partition's stream time jumps ahead with whichever topic was fetched first and the other
topics' older events look late. As Kafka Streams' `PartitionGroup` does (KIP-353, KIP-695),
records are buffered per topic-partition and the pipeline gets, per partition number, the
head with the smallest event time, but only while every input topic of that partition has a
buffered record or is known to have nothing more to give:

- a topic-partition with nothing buffered and records on the broker not yet read (lag > 0),
  or whose lag is not known yet, holds its partition back, at most `max_wait` seconds (then
  the partition goes on and the records passed are counted as *enforced*);
- a caught-up empty one (lag 0) is idle: it holds nothing back after `idle_wait` seconds (0
  by default, as Kafka Streams' `max.task.idle.ms`), so a quiet topic never stalls, once its
  lag is known to be fresh: lags come from fetch responses, and a response read while a
  producer's records are being appended shows some topic-partitions with the new records and
  others without (a produce request appends its partitions one by one, a producer may split
  one burst over several requests), so a record passes a caught-up topic only once that
  topic-partition was answered a fetch sent after the record was on the broker (`polled_of`:
  the send time of the request behind the topic-partition's latest answer,
  `processor.stream.fetch_times`): after the answer that brought the record was read, or
  after its producer's timestamp plus `clock_margin` (producers' clocks may be off by that
  much) when that is earlier. Without it, a replay's first fetch showed a partition's
  mentions and its first reply only, its other topics empty, and the mentions went up to 18
  minutes before the replies (seen in tests; a record more than half the lateness ahead
  waited so before, lest the others come too late). A backlog produced long ago pays
  nothing (its timestamps are old); a live record waits for the fetch round after the one
  that brought it (a round is as long as the broker holds a fetch, at most
  `SOCIALCARE_FETCH_MAX_WAIT_SECONDS`); a wall-clock wait alone would pass without any
  fetch on a starved CPU, and with no fetch answer seen at all the partition goes on after
  `max_wait`;
- a fetch sent after a record was on the broker still misses records its producer sent
  before it when they are in the same produce request: the broker appends a request's
  partitions one after the other, and a fetch answered by its wait's end (not by new
  records) shows whatever is appended by then. Found in Kafka's log segments: a producer's
  mentions and replies of one instant, the replies shown by one answer, the mentions by
  the answer after the next, 146 ms on a loaded machine; the mentions of a burst four
  hours behind its replies were then too late (`test_predicted_csat`, one CI run in three
  with the 50 ms fetch wait). Within a request's spread the order does not change a count
  (within the allowed lateness they are order-independent), far apart it does: so a record
  more than `jump` seconds of event time past the partition's *settled* stream time waits
  for each empty topic to be asked `settle` seconds after it was on the broker. The settled
  stream time is the stream time of the records released before every input topic of the
  partition was asked `settle` after them, or the event time of a record that waited so:
  live traffic stays within `jump` of it and
  pays nothing; a burst of history, the first record after a quiet spell or after a
  takeover pays `settle` once;
- a topic-partition with more than `max_buffered` records waiting is reported as one to
  pause, so memory stays bounded while a slow topic catches up.

Pure bookkeeping, no Kafka: the worker feeds it records with their event time, asks for
what is ready, and acts on `to_pause` / `to_resume`. The event time is the payload's
`occurred_at` (the contract's event time), read with a cheap scan; a record without one
sorts first and is dead-lettered by the pipeline.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

Item = TypeVar("Item")
# Lag of a topic-partition: records on the broker not yet read; None when not known yet.
LagOf = Callable[[str, int], int | None]
# A time after which a fetch request for a topic-partition was sent (and answered), on the
# clock of `now`; None when not known yet.
PolledOf = Callable[[str, int], float | None]


# Releases awaiting their settling per partition, at most (merged beyond).
_MAX_UNSETTLED = 64

_OCCURRED_AT = re.compile(rb'"occurred_at"\s*:\s*"([^"]{1,64})"')


def event_time_of(value: bytes | None) -> float:
    """`occurred_at` of a raw event as POSIX seconds; -inf when absent or unreadable."""
    if not value:
        return float("-inf")
    found = _OCCURRED_AT.search(value)
    if found is None:
        return float("-inf")
    try:
        text = found.group(1).decode()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return moment.timestamp()
    except (ValueError, UnicodeDecodeError):
        return float("-inf")


@dataclass
class _Partition(Generic[Item]):
    """The buffers of one partition number: one FIFO per input topic."""

    # Per topic: (event time, arrival sequence, the time a fetch request must follow to show
    # the quiet topics caught up behind it, the record).
    queues: dict[str, deque[tuple[float, int, float, Item]]]
    # Per empty topic, since when it holds the partition with records unread (or a lag not
    # known), or since when it is found caught up: each wait counts from its own start and
    # ends when the topic brings a record (as Kafka Streams' idle deadlines per partition),
    # so short waits of a busy backlog never add up to the max wait.
    unread_since: dict[str, float] = field(default_factory=dict)
    idle_since: dict[str, float] = field(default_factory=dict)
    # Since when the partition waits for a fetch showing its caught-up topics' lags fresh;
    # None once one did. Past `max_wait` it goes on without, until a fetch shows them.
    unproven_since: float | None = None
    stream_time: float | None = None  # latest event time handed over
    # Per release, (the latest time one of its records was on the broker by, the stream
    # time after it), oldest first, until every input topic was asked `settle` after it:
    # its stream time is then the settled one.
    unsettled: deque[tuple[float, float]] = field(default_factory=deque)
    settled_time: float | None = None


@dataclass
class Released(Generic[Item]):
    """What `release` hands over, in order, and what it observed."""

    items: list[Item] = field(default_factory=list)
    enforced: int = 0  # of them, passed while a topic with unread or unknown records was empty


class Aligner(Generic[Item]):
    """Per partition number, the input topics' records merged by event time."""

    def __init__(
        self,
        topics: Iterable[str],
        *,
        idle_wait: float = 0.0,
        max_wait: float = 30.0,
        max_buffered: int = 10_000,
        clock_margin: float = 2.0,
        settle: float = 0.0,
        jump: float = 60.0,
    ) -> None:
        self.topics = tuple(topics)
        self.idle_wait = idle_wait
        self.settle = settle
        self.jump = jump
        self.clock_margin = clock_margin
        self.max_wait = max_wait
        self.max_buffered = max_buffered
        self._partitions: dict[int, _Partition[Item]] = {}
        self._sequence = 0
        self._paused: set[tuple[str, int]] = set()

    def _partition(self, partition: int) -> _Partition[Item]:
        state = self._partitions.get(partition)
        if state is None:
            state = _Partition({topic: deque() for topic in self.topics})
            self._partitions[partition] = state
        return state

    def add(
        self, topic: str, partition: int, event_time: float, item: Item,
        fetched_at: float = 0.0, created_at: float | None = None,
    ) -> None:  # fmt: skip
        """Buffer one record of an input topic (in its topic-partition's offset order),
        fetched at `fetched_at`, produced at `created_at` by its producer's clock (both on
        the clock of `release`'s `now` and of `polled_of`; None: not known)."""
        self._sequence += 1
        state = self._partition(partition)
        shown_by = (
            fetched_at if created_at is None else min(fetched_at, created_at + self.clock_margin)
        )
        state.queues[topic].append((event_time, self._sequence, shown_by, item))
        state.unread_since.pop(topic, None)
        state.idle_since.pop(topic, None)

    def release(self, now: float, lag_of: LagOf, polled_of: PolledOf) -> Released[Item]:
        """Everything that may go to the pipeline now, partition by partition, in order."""
        out: Released[Item] = Released()
        for number, state in self._partitions.items():
            self._release_partition(number, state, now, lag_of, polled_of, out)
        return out

    def _release_partition(
        self, number: int, state: _Partition[Item], now: float, lag_of: LagOf,
        polled_of: PolledOf, out: Released[Item],
    ) -> None:  # fmt: skip
        queues = state.queues
        if state.unsettled:
            self._settle(number, state, polled_of)
        latest_shown: float | None = None
        while True:
            heads = [(queue[0], topic) for topic, queue in queues.items() if queue]
            if not heads:
                break
            enforced = False
            (event_time, _, shown_by, item), topic = min(heads)
            if len(heads) < len(queues):
                waiting = self._waiting_on(
                    number, state, now, lag_of, polled_of, shown_by, event_time
                )
                if waiting is None:
                    break  # hold: a topic may still bring earlier records
                enforced = waiting
            elif state.unproven_since is not None and now - state.unproven_since < self.max_wait:
                state.unproven_since = None  # every topic brought one: a later wait starts anew
            queues[topic].popleft()
            out.items.append(item)
            if enforced:
                out.enforced += 1
            if state.stream_time is None or event_time > state.stream_time:
                state.stream_time = event_time
            if latest_shown is None or shown_by > latest_shown:
                latest_shown = shown_by
        if latest_shown is not None and state.stream_time is not None:
            self._unsettled(state, latest_shown, state.stream_time)

    def _settle(self, number: int, state: _Partition[Item], polled_of: PolledOf) -> None:
        """Settle the releases every input topic was asked `settle` seconds after."""
        horizon = float("inf")
        for topic in self.topics:
            asked = polled_of(topic, number)
            if asked is None:
                return
            horizon = min(horizon, asked)
        horizon -= self.settle
        pending = state.unsettled
        settled = state.settled_time
        while pending and pending[0][0] <= horizon:
            stream_time = pending.popleft()[1]
            if settled is None or stream_time > settled:
                settled = stream_time
        state.settled_time = settled  # never back: a record's own settle time may be ahead

    def _unsettled(self, state: _Partition[Item], shown_by: float, stream_time: float) -> None:
        pending = state.unsettled
        if len(pending) >= _MAX_UNSETTLED:
            # Topics not asked for long (paused): merged, settled no earlier than before.
            last_shown, _ = pending.pop()
            shown_by = max(shown_by, last_shown)
        pending.append((shown_by, stream_time))

    def _waiting_on(
        self, number: int, state: _Partition[Item], now: float, lag_of: LagOf,
        polled_of: PolledOf, shown_by: float, event_time: float,
    ) -> bool | None:  # fmt: skip
        """None to hold the partition; else go on (True: enforced past unread records)."""
        unread = idle_short = False
        for topic, queue in state.queues.items():
            if queue:
                continue
            lag = lag_of(topic, number)
            if lag is None or lag > 0:
                state.idle_since.pop(topic, None)
                if now - state.unread_since.setdefault(topic, now) < self.max_wait:
                    return None
                unread = True
            else:
                state.unread_since.pop(topic, None)
                if now - state.idle_since.setdefault(topic, now) < self.idle_wait:
                    idle_short = True
        if unread:
            return True
        if idle_short:
            return None
        # The empty topics look caught up, but their lags come from fetch responses:
        # records on the broker since may not show yet. The record goes once each was
        # answered a fetch sent after `shown_by` (`settle` later if it runs far past the
        # settled stream time), or after `max_wait` if none ever says so.
        settled = state.settled_time
        far = settled is None or event_time > settled + self.jump
        if far:
            shown_by += self.settle
        for topic, queue in state.queues.items():
            if not queue:
                polled = polled_of(topic, number)
                if polled is None or polled < shown_by:
                    break
        else:
            state.unproven_since = None
            if far:  # the empty topics are settled up to it: what follows it is near
                state.settled_time = event_time
            return False
        if state.unproven_since is None:
            state.unproven_since = now
        return None if now - state.unproven_since < self.max_wait else False

    # -- partitions and back-pressure -----------------------------------------------------------

    def buffered(self, partition: int) -> int:
        state = self._partitions.get(partition)
        return sum(len(queue) for queue in state.queues.values()) if state else 0

    def waiting(self) -> bool:
        """Anything buffered at all (held back, to be released later)."""
        return any(queue for state in self._partitions.values() for queue in state.queues.values())

    def partitions(self) -> list[int]:
        return sorted(self._partitions)

    def stream_time(self, partition: int) -> float | None:
        """Latest event time handed over on the partition (the aligned stream time)."""
        state = self._partitions.get(partition)
        return state.stream_time if state else None

    def idle_topics(self, lag_of: LagOf) -> int:
        """Topic-partitions with nothing buffered and nothing more on the broker."""
        return sum(
            1
            for number, state in self._partitions.items()
            for topic, queue in state.queues.items()
            if not queue and lag_of(topic, number) == 0
        )

    def backpressure(self) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
        """(topic-partitions to pause, to resume): over the bound, back under half of it."""
        pause: set[tuple[str, int]] = set()
        resume: set[tuple[str, int]] = set()
        for number, state in self._partitions.items():
            for topic, queue in state.queues.items():
                place = (topic, number)
                if place not in self._paused and len(queue) > self.max_buffered:
                    pause.add(place)
                elif place in self._paused and len(queue) <= self.max_buffered // 2:
                    resume.add(place)
        self._paused = (self._paused | pause) - resume
        return pause, resume

    @property
    def paused(self) -> frozenset[tuple[str, int]]:
        return frozenset(self._paused)

    def drop(self, partitions: Iterable[int]) -> list[Item]:
        """Forget revoked partitions; returns what was buffered (it is not processed here)."""
        dropped: list[Item] = []
        for number in partitions:
            state = self._partitions.pop(number, None)
            if state is not None:
                for queue in state.queues.values():
                    dropped.extend(item for _, _, _, item in queue)
            self._paused = {place for place in self._paused if place[1] != number}
        return dropped
