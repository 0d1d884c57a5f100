"""What happens to one message: validate, dedup, fold into state, aggregate, sweep.

The Faust agent in `processor.app` is a loop that hands each message to
`Pipeline.handle`. The tables are passed in as mappings, so the pipeline is the same code
in a worker and in unit tests (where plain dicts stand in for Faust tables).

Aggregates are keyed by partition: a worker exports only the partitions it owns, and a
partition's numbers move with it on rebalance (its changelog is replayed by the new owner).
"""

from __future__ import annotations

import bisect
import functools
import heapq
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import orjson

from processor import conversation
from processor.conversation import ConversationRules, ConversationState
from processor.deadletters import envelope
from processor.events import AnyEvent, ContactCount, Mention, Rejection, Reply, decode_event
from processor.metrics import (
    AGE_BOUNDS,
    AGE_LABELS,
    BUCKET_SIZES,
    WINDOWED_SERIES,
    Contributions,
    add_into,
    retention_seconds,
)
from processor.quality import SentimentRules
from processor.sentiment import load_scorer, with_sentiment
from processor.settings import ClockMode, Settings
from processor.sla import SlaPolicyCache

log = logging.getLogger(__name__)

_CONTRIBUTIONS_CACHE = 50_000

Table = MutableMapping[Any, Any]


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


class OpenConversation(NamedTuple):
    """What the scrape needs of an open conversation (backlog by age and by priority)."""

    brand: str
    channel: str
    opened_at: float
    priority: str
    backlog: str  # the state label of open_conversations


class OutOfOrder(Exception):
    """An event that contradicts what the conversation already holds; dead-lettered."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.detail)
        self.rejection = rejection


def _check_order(state: ConversationState, event: AnyEvent) -> None:
    """A reply to the opening post stamped before that post: a clock or feed bug.

    Only decidable once the opening mention is known; a reply that arrives first is counted
    (as a reply, never as a response: it precedes the opening). See docs/metrics.md.
    """
    if (
        isinstance(event, Reply)
        and event.in_reply_to == state.conversation_id
        and state.opened_at is not None
        and event.occurred_ts < state.opened_at
    ):
        raise OutOfOrder(
            Rejection(
                "reply_before_mention",
                f"reply occurred_at {event.occurred_at} is before the post it answers "
                f"({state.conversation_id}, {_rfc3339(state.opened_at)})",
                event.event_id,
            )
        )


def retention_horizon(settings: Settings, wall_now: float) -> float:
    """Events before it are dead-lettered: no state of theirs would be kept.

    Live, a conversation idle for the TTL is forgotten, so an event older than the wall
    clock less the TTL would open a conversation already past its forgetting time. In
    replay the partition watermark moves with the history (`too_late` covers it); the
    configured earliest time catches epoch-zero and similar timestamp bugs in both modes.
    """
    earliest = settings.earliest_event_time.timestamp()
    if settings.clock is ClockMode.WALL:
        return max(earliest, wall_now - settings.conversation_ttl_seconds)
    return earliest


def time_bounds_rejection(event: AnyEvent, settings: Settings, wall_now: float) -> Rejection | None:
    """The checks that need no state: before the retention horizon, too far in the future."""
    at = event.occurred_ts
    horizon = retention_horizon(settings, wall_now)
    if at < horizon:
        return Rejection(
            "before_retention_horizon",
            f"occurred_at {event.occurred_at} is before the retention horizon "
            f"{_rfc3339(horizon)} (SOCIALCARE_EARLIEST_EVENT_TIME, and live the "
            "wall clock less SOCIALCARE_CONVERSATION_TTL_SECONDS)",
            event.event_id,
        )
    if at > wall_now + settings.max_future_seconds:
        return Rejection(
            "future_timestamp",
            f"occurred_at {event.occurred_at} is more than "
            f"{settings.max_future_seconds:g}s ahead of the wall clock",
            event.event_id,
        )
    return None


class Dedup(Protocol):
    async def first_times(self, event_ids: list[str]) -> list[bool]: ...
    async def forget(self, event_ids: list[str]) -> None: ...


class Health(Protocol):
    """Process-local health counters (see `processor.export.HealthMetrics`)."""

    def processed(self, event_type: str, outcome: str) -> None: ...
    def dead_lettered(self, reason: str) -> None: ...
    def processing_error(self) -> None: ...
    def observe_event(self, event_time: float, produced_at: float | None) -> None: ...


@dataclass(frozen=True, slots=True)
class Message:
    """The parts of a Kafka record the pipeline needs."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None


DeadLetterSink = Callable[[bytes | None, bytes], Awaitable[None]]


@functools.lru_cache(maxsize=65536)
def totals_key(partition: int, brand: str, channel: str) -> str:
    return orjson.dumps([partition, brand, channel]).decode()


@functools.lru_cache(maxsize=65536)
def window_key(partition: int, brand: str, channel: str, size: float, start: float) -> str:
    return orjson.dumps([partition, brand, channel, size, start]).decode()


def parse_key(key: str) -> list[Any]:
    parsed: list[Any] = orjson.loads(key)
    return parsed


class Pipeline:
    """Per-worker processing state around the tables."""

    def __init__(
        self,
        settings: Settings,
        *,
        conversations: Table,
        totals: Table,
        windows: Table,
        clocks: Table,
        policies: SlaPolicyCache,
        dedup: Dedup,
        health: Health,
        send_dead_letter: DeadLetterSink,
        wall_clock: Callable[[], float] = time.time,
        flush: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.conversations = conversations
        self.totals = totals
        self.windows = windows
        self.clocks = clocks
        self.policies = policies
        self.dedup = dedup
        self.health = health
        self.send_dead_letter = send_dead_letter
        self.wall_clock = wall_clock
        # Called once per batch, after the table writes: sends the changelog records.
        self.flush = flush
        self.topic_types = settings.input_topics
        self.rules = ConversationRules(
            sentiment=SentimentRules(
                settings.negative_sentiment_below, settings.positive_sentiment_above
            ),
            inactivity_seconds=settings.inactivity_resolution_seconds,
            at_risk_margin_seconds=settings.at_risk_margin_seconds,
            teams=frozenset(settings.teams) if settings.teams is not None else None,
            agents=frozenset(settings.agent_labels),
        )
        self.scorer = load_scorer(settings.sentiment_scorer)
        self._lateness = settings.allowed_lateness_seconds
        self._retention = {size: retention_seconds(size, self._lateness) for size in BUCKET_SIZES}
        # Derived, in-memory indexes, rebuilt from the tables for a partition when it is
        # (re)assigned: open first-response deadlines and live window buckets.
        # (next time the clock alone changes a conversation, its id): deadlines, at-risk
        # moments, inactivity; entries may be stale and are checked against the state.
        self._checks: dict[int, list[tuple[float, str]]] = defaultdict(list)
        # One heap per bucket size: their retentions differ (1 h vs 24 h plus lateness).
        self._buckets: dict[tuple[int, float], list[tuple[float, str]]] = defaultdict(list)
        # The contributions of recently written states (derived, bounded): saves computing
        # the "before" side of each change again.
        self._contributions: dict[str, Contributions] = {}
        # Open conversations per partition: id -> (brand, channel, opened_at), for the age
        # buckets of the backlog, computed at scrape time (age grows with the clock).
        self._open: dict[int, dict[str, OpenConversation]] = defaultdict(dict)
        # Conversations by last event time, to forget idle ones (one entry per conversation).
        self._idle: dict[int, list[tuple[float, str]]] = defaultdict(list)
        self._indexed: set[int] = set()

    # -- time ---------------------------------------------------------------------------

    def stream_time(self, partition: int) -> float | None:
        """Latest event time seen on the partition (persisted in the clocks table)."""
        value = self.clocks.get(str(partition))
        return float(value) if value is not None else None

    def deadline_now(self, partition: int) -> float:
        """'Now' for SLA deadlines: wall clock live, the event-time watermark in replay."""
        if self.settings.clock is ClockMode.WALL:
            return self.wall_clock()
        latest = self.stream_time(partition)
        return float("-inf") if latest is None else latest - self._lateness

    def window_now(self, partition: int) -> float:
        """'Now' that sliding windows end at: wall clock live, latest event time in replay."""
        if self.settings.clock is ClockMode.WALL:
            return self.wall_clock()
        latest = self.stream_time(partition)
        return float("-inf") if latest is None else latest

    # -- one message ----------------------------------------------------------------------

    async def handle(self, message: Message) -> None:
        """Process one input message; never raises for bad input."""
        await self.handle_batch([message])

    async def handle_batch(self, messages: list[Message]) -> None:
        """Process messages in order; one Redis round trip and one table flush per batch.

        The aggregates are the same as handling them one by one: events are folded in order,
        so the lateness check of each sees the event time left by the ones before it; the
        clock is swept once per partition at the end of the batch (only `swept_until`, the
        clock's bookkeeping in the states, differs).
        """
        decoded: list[AnyEvent | Rejection | None] = []
        for message in messages:
            if message.topic == self.settings.topic_ticks:
                decoded.append(None)
                continue
            expected = self.topic_types.get(message.topic)
            if expected is None:
                decoded.append(Rejection("wrong_topic", f"{message.topic} is not an input topic"))
                continue
            decoded.append(decode_event(message.value, expected, self.settings.max_event_bytes))
        candidates = [item.event_id for item in decoded if isinstance(item, AnyEvent)]
        first_seen = iter(await self.dedup.first_times(candidates) if candidates else [])
        unmark: list[str] = []
        letters: list[tuple[Message, Rejection, str]] = []
        touched: set[int] = set()
        for message, item in zip(messages, decoded, strict=True):
            touched.add(message.partition)
            if item is None:
                continue  # a clock tick: the sweep below covers its partition
            if isinstance(item, Rejection):
                letters.append((message, item, self.topic_types.get(message.topic, "unknown")))
                continue
            if not next(first_seen):
                # Already counted (a redelivery after a restart, a re-sent file): whatever
                # its time, it is a duplicate, not a late event.
                self.health.processed(item.type, "duplicate")
                continue
            rejection = self._check_time(message.partition, item)
            if rejection is not None:
                unmark.append(item.event_id)
                letters.append((message, rejection, item.type))
                continue
            try:
                self.apply(message.partition, item)
            except OutOfOrder as contradiction:
                unmark.append(item.event_id)
                letters.append((message, contradiction.rejection, item.type))
                continue
            except Exception as exc:
                log.exception("processing failed for event %s", item.event_id)
                self.health.processing_error()
                unmark.append(item.event_id)
                failure = Rejection(
                    "processing_error", f"{type(exc).__name__}: {exc}", item.event_id
                )
                letters.append((message, failure, item.type))
                continue
            self.health.processed(item.type, "counted")
            self.health.observe_event(item.occurred_ts, message.timestamp)
        for partition in sorted(touched):
            try:
                self.sweep(partition)
            except Exception:
                # Time-driven work must not stop event processing; the next tick retries.
                log.exception("deadline sweep failed on partition %d", partition)
                self.health.processing_error()
        self.flush()
        if unmark:
            # Not counted: a retry after a fix must not be taken for a duplicate.
            await self.dedup.forget(unmark)
        for message, rejection, event_type in letters:
            await self.dead_letter(message, rejection, event_type)

    def _check_time(self, partition: int, event: AnyEvent) -> Rejection | None:
        out_of_bounds = time_bounds_rejection(event, self.settings, self.wall_clock())
        if out_of_bounds is not None:
            return out_of_bounds
        at = event.occurred_ts
        latest = self.stream_time(partition)
        if latest is not None and at < latest - self._lateness:
            return Rejection(
                "too_late",
                f"occurred_at {event.occurred_at} is {latest - at:.0f}s behind the partition's "
                f"latest event time; allowed lateness is {self._lateness:g}s",
                event.event_id,
            )
        return None

    async def dead_letter(self, message: Message, rejection: Rejection, event_type: str) -> None:
        document = envelope(
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            now=self.wall_clock(),
        )
        await self.send_dead_letter(message.key, document)
        self.health.dead_lettered(rejection.reason)
        self.health.processed(event_type, "deadlettered")
        log.warning(
            "dead letter %s from %s[%d]@%d: %s",
            rejection.reason, message.topic, message.partition, message.offset, rejection.detail,
        )  # fmt: skip

    # -- state and aggregates ---------------------------------------------------------------

    def _load(self, conversation_id: str, partition: int) -> ConversationState:
        document = self.conversations.get(conversation_id)
        if document is None:
            return ConversationState(conversation_id=conversation_id, partition=partition)
        return ConversationState.from_json(document)

    def apply(self, partition: int, event: AnyEvent) -> None:
        """Fold a valid, first-seen event into its conversation and the aggregates."""
        self._ensure_indexed(partition)
        if isinstance(event, ContactCount):
            self._aggregate(partition, conversation.event_increments(event))
            self._advance_stream_time(partition, event.occurred_ts)
            return
        if isinstance(event, Mention):
            event = with_sentiment(event, self.scorer)
        state = self._load(event.conversation_id, partition)
        _check_order(state, event)
        is_new = state.last_event_at is None
        before = self._contributions_of(state)
        conversation.apply_event(state, event, self.policies, self.rules)
        timeline = conversation.walk(state)
        after = conversation.contributions(state, timeline)
        delta = conversation.difference(before, after)
        for key, amount in conversation.event_increments(event, self.rules).items():
            delta[key] = delta.get(key, 0.0) + amount
        self._store(state, after)
        self._aggregate(partition, delta)
        self._track(partition, state, timeline)
        if is_new and state.last_event_at is not None:
            heapq.heappush(self._idle[partition], (state.last_event_at, state.conversation_id))
        self._advance_stream_time(partition, event.occurred_ts)

    def _advance_stream_time(self, partition: int, at: float) -> None:
        latest = self.stream_time(partition)
        if latest is None or at > latest:
            self.clocks[str(partition)] = at

    def _contributions_of(self, state: ConversationState) -> Contributions:
        """Contributions of a stored state: remembered from its last write when possible."""
        cached = self._contributions.get(state.conversation_id)
        if cached is not None:
            return cached
        return conversation.contributions(state)

    def _store(self, state: ConversationState, contributions: Contributions) -> None:
        self.conversations[state.conversation_id] = state.to_json()
        self._index_open(state, contributions)
        cache = self._contributions
        cache[state.conversation_id] = contributions
        if len(cache) > _CONTRIBUTIONS_CACHE:
            del cache[next(iter(cache))]  # the oldest entry: insertion order

    def _track(
        self,
        partition: int,
        state: ConversationState,
        timeline: conversation.Timeline | None = None,
    ) -> None:
        due = conversation.next_check(state, timeline)
        if due is not None:
            heapq.heappush(self._checks[partition], (due, state.conversation_id))

    def _aggregate(self, partition: int, delta: Contributions) -> None:
        # Values are mutated in place and assigned back once, so each changed key is one
        # table write (the changelog record is sent at the end of the batch).
        touched_totals: dict[str, dict[str, float]] = {}
        touched_windows: dict[str, dict[str, float]] = {}
        window_now = self.window_now(partition)
        for (name, labels, at), amount in delta.items():
            brand, channel, extra = labels[0], labels[1], labels[2:]
            key = totals_key(partition, brand, channel)
            totals = touched_totals.get(key)
            if totals is None:
                totals = touched_totals[key] = self.totals.get(key) or {}
            add_into(totals, name, extra, amount)
            if at is None or name not in WINDOWED_SERIES:
                continue
            for size in BUCKET_SIZES:
                start = at - (at % size)
                if start < window_now - self._retention[size]:
                    continue  # older than any window that reads this bucket size
                wkey = window_key(partition, brand, channel, size, start)
                bucket = touched_windows.get(wkey)
                if bucket is None:
                    stored = self.windows.get(wkey)
                    if stored is None:
                        heapq.heappush(self._buckets[(partition, size)], (start, wkey))
                        stored = {}
                    bucket = touched_windows[wkey] = stored
                add_into(bucket, name, extra, amount)
        for key, totals in touched_totals.items():
            self.totals[key] = totals
        for key, bucket in touched_windows.items():
            self.windows[key] = bucket

    # -- time-driven work ---------------------------------------------------------------------

    def sweep(self, partition: int) -> None:
        """Breach overdue conversations and drop expired window buckets of a partition."""
        self._ensure_indexed(partition)
        now = self.deadline_now(partition)
        checks = self._checks[partition]
        while checks and checks[0][0] <= now:
            _, conversation_id = heapq.heappop(checks)
            document = self.conversations.get(conversation_id)
            if document is None:
                continue
            state = ConversationState.from_json(document)
            before = self._contributions_of(state)
            if conversation.advance_clock(state, now):
                timeline = conversation.walk(state)
                after = conversation.contributions(state, timeline)
                self._store(state, after)
                self._aggregate(partition, conversation.difference(before, after))
                self._track(partition, state, timeline)
        window_now = self.window_now(partition)
        # Idle by the watermark, not the latest event time: an event within the allowed
        # lateness may still come for the conversation.
        self._forget_idle(partition, now - self.settings.conversation_ttl_seconds)
        for size in BUCKET_SIZES:
            buckets = self._buckets[(partition, size)]
            expired_before = window_now - self._retention[size]
            while buckets and buckets[0][0] < expired_before:
                _, wkey = heapq.heappop(buckets)
                if wkey in self.windows:
                    del self.windows[wkey]

    def _forget_idle(self, partition: int, idle_before: float) -> None:
        """Remove conversations with no event since `idle_before` (bounded state)."""
        idle = self._idle[partition]
        while idle and idle[0][0] < idle_before:
            _, conversation_id = heapq.heappop(idle)
            document = self.conversations.get(conversation_id)
            if document is None:
                continue
            state = ConversationState.from_json(document)
            last = state.last_event_at
            if last is not None and last >= idle_before:
                heapq.heappush(idle, (last, conversation_id))  # active since: look again later
                continue
            self._aggregate(partition, conversation.retirement(state))
            del self.conversations[conversation_id]
            self._contributions.pop(conversation_id, None)
            self._open[partition].pop(conversation_id, None)

    def forget_partitions(self, partitions: set[int] | None = None) -> None:
        """Drop derived indexes (on revocation); they are rebuilt on next use."""
        self._contributions.clear()
        for partition in list(self._indexed) if partitions is None else partitions:
            self._indexed.discard(partition)
            self._checks.pop(partition, None)
            self._idle.pop(partition, None)
            self._open.pop(partition, None)
            for size in BUCKET_SIZES:
                self._buckets.pop((partition, size), None)

    def _index_open(self, state: ConversationState, contributions: Contributions) -> None:
        open_now = self._open[state.partition]
        backlog = next(
            (key[1][-1] for key in contributions if key[0] == "open_conversations"), None
        )
        if backlog is not None and state.brand and state.channel and state.opened_at is not None:
            open_now[state.conversation_id] = OpenConversation(
                state.brand, state.channel, state.opened_at, state.priority, backlog
            )
        else:
            open_now.pop(state.conversation_id, None)

    def _ensure_indexed(self, partition: int) -> None:
        if partition in self._indexed:
            return
        checks: list[tuple[float, str]] = []
        idle: list[tuple[float, str]] = []
        for conversation_id, document in list(self.conversations.items()):
            if document is None or document.get("partition") != partition:
                continue
            state = ConversationState.from_json(document)
            if state.last_event_at is not None:
                idle.append((state.last_event_at, conversation_id))
            timeline = conversation.walk(state)
            if timeline.open_now:
                self._index_open(state, conversation.contributions(state, timeline))
            due = conversation.next_check(state)
            if due is not None:
                checks.append((due, conversation_id))
        heapq.heapify(checks)
        heapq.heapify(idle)
        self._idle[partition] = idle
        buckets: dict[float, list[tuple[float, str]]] = {size: [] for size in BUCKET_SIZES}
        for wkey in list(self.windows.keys()):
            parsed = parse_key(wkey)
            if parsed[0] == partition and parsed[3] in buckets:
                buckets[parsed[3]].append((parsed[4], wkey))
        for size, heap in buckets.items():
            heapq.heapify(heap)
            self._buckets[(partition, size)] = heap
        self._checks[partition] = checks
        self._indexed.add(partition)
        log.info(
            "partition %d indexed: %d clock checks, %d window buckets",
            partition, len(checks), sum(len(heap) for heap in buckets.values()),
        )  # fmt: skip

    # -- reading for export ---------------------------------------------------------------------

    def owned_totals(self, partitions: set[int]) -> Iterator[tuple[str, str, dict[str, float]]]:
        for key, values in list(self.totals.items()):
            partition, brand, channel = parse_key(key)
            if partition in partitions and values:
                yield brand, channel, values

    def open_ages(self, partitions: set[int]) -> dict[tuple[str, str, str], int]:
        """Open conversations of the partitions by (brand, channel, age bucket)."""
        counts: dict[tuple[str, str, str], int] = defaultdict(int)
        for partition in partitions:
            # The index is derived from the tables; after a restart or a rebalance the first
            # scrape may come before the first event or tick of the partition.
            self._ensure_indexed(partition)
            now = self.window_now(partition)
            groups: dict[tuple[str, str], list[float]] = defaultdict(list)
            for entry in list(self._open.get(partition, {}).values()):
                groups[(entry.brand, entry.channel)].append(entry.opened_at)
            # Sorted opening times and one bisection per bucket bound: the scrape stays
            # cheap with tens of thousands of open conversations.
            cuts = [now - bound for bound in reversed(AGE_BOUNDS)]  # oldest bound first
            for (brand, channel), opened in groups.items():
                opened.sort()
                previous = 0
                for label, cut in zip(reversed(AGE_LABELS), [*cuts, float("inf")], strict=True):
                    # opened_at <= cut means age >= bound: older than this bucket's floor
                    index = bisect.bisect_right(opened, cut)
                    if index > previous:
                        counts[(brand, channel, label)] += index - previous
                    previous = index
        return counts

    def open_by_priority(self, partitions: set[int]) -> dict[tuple[str, str, str, str], int]:
        """Open conversations of the partitions by (brand, channel, priority, backlog state)."""
        counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
        for partition in partitions:
            self._ensure_indexed(partition)
            for entry in list(self._open.get(partition, {}).values()):
                counts[(entry.brand, entry.channel, entry.priority, entry.backlog)] += 1
        return counts

    def owned_buckets(
        self, partitions: set[int]
    ) -> Iterator[tuple[int, str, str, float, float, dict[str, float]]]:
        for key, values in list(self.windows.items()):
            partition, brand, channel, size, start = parse_key(key)
            if partition in partitions and values:
                yield partition, brand, channel, size, start, values
