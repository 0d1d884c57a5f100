"""What happens to a batch of messages, in the order the README's "How it counts" tells it.

skip what the state already holds -> decode -> dedup -> time checks -> fold into the
conversation -> add the difference of its contributions to the aggregates -> fold the
customer contacts read -> sweep the clock -> dead letters -> checkpoint (the batch's changes
made durable, one unit per partition). What a conversation tells its customer's partition
(`processor.stream.customers`) goes out with the checkpoint, or, without a broker (unit
tests, the micro-benchmark), straight back in at the end of the batch.

The parts each have one job: `Clock` (what "now" is per partition), `ConversationStore`
(states and their indexes), `Aggregates` (totals and window buckets), `Tables` (with the
input progress per partition), a `Checkpoint`, a `Dedup` window and a `DeadLetterSink`.
They are passed in, so the pipeline is the same code in a worker and in unit tests (plain
dicts for the tables).
Export reads through `StateView`, never the pipeline itself.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace

from processor.domain import conversation, customers
from processor.domain.admission import order_rejection, settled_rejection
from processor.domain.churn import DEFAULT_CHURN_PHRASES, ChurnPhrases
from processor.domain.conversation import ConversationRules, ConversationState
from processor.domain.events import (
    AnyEvent,
    ContactCount,
    Mention,
    Rejection,
    Reply,
    Survey,
    decode_event,
)
from processor.domain.identity import (
    CONFLICT,
    DUPLICATE,
    FIRST,
    Sighting,
    conflict_rejection,
    content_digest,
    seen_before,
)
from processor.domain.quality import SentimentRules
from processor.domain.sentiment import load_scorer, with_sentiment
from processor.domain.sla import SlaPolicyCache
from processor.metrics.series import Contributions
from processor.predict import csat_scoring
from processor.settings import Settings, TeamStaffing
from processor.state.records import Outgoing
from processor.stream.aggregates import Aggregates, BucketRow, TotalsRow
from processor.stream.clock import Clock
from processor.stream.conversations import ConversationStore
from processor.stream.csat_models import CsatModelStore
from processor.stream.customers import (
    ContactRouting,
    CustomerStore,
    decode_facts,
    encode_facts,
)
from processor.stream.forecasting import ForecastKey, breach_forecast, staffed_pool
from processor.stream.interfaces import (
    Checkpoint,
    Committing,
    DeadLetterSink,
    Dedup,
    Health,
    Message,
    NoCheckpoint,
)
from processor.stream.labels import LabelBounds, LabelRegistry, MemoryLabelRegistry
from processor.stream.native_core import NativeCores
from processor.stream.seen import SeenEvents
from processor.stream.tables import Tables

log = logging.getLogger(__name__)


class Pipeline:
    """The stream core of one worker: folds batches of messages into the tables."""

    def __init__(
        self,
        settings: Settings,
        *,
        tables: Tables,
        policies: SlaPolicyCache,
        dedup: Dedup,
        health: Health,
        dead_letters: DeadLetterSink,
        checkpoint: Checkpoint | None = None,
        wall_clock: Callable[[], float] = time.time,
        catching_up: Callable[[int], bool] = lambda partition: False,
        label_registry: LabelRegistry | None = None,
        send_contact: Callable[[int, Outgoing], None] | None = None,
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.policies = policies
        self.dedup = dedup
        self.health = health
        self.dead_letters = dead_letters
        self.checkpoint: Checkpoint = checkpoint or NoCheckpoint()
        self.clock = Clock(settings, tables.clocks, wall_clock, catching_up)
        self.conversations = ConversationStore(
            tables.conversations,
            tables.threads,
            settings.state_cache_conversations,
            history=settings.predictions,
        )
        self.aggregates = Aggregates(
            tables.totals, tables.windows, settings.allowed_lateness_seconds
        )
        self.seen = SeenEvents(tables.seen)
        self.csat_models = CsatModelStore(tables.models, settings.csat_min_answers)
        self.customers = CustomerStore(tables.customers, settings.customer_ttl_seconds)
        self.contacts = ContactRouting(settings.topic_customer_contacts, settings.partitions)
        # Facts for the customers' partitions: with the checkpoint (a worker), or looped
        # back at the end of the batch.
        self._loopback: list[Message] = []
        self.send_contact = send_contact or self._loop_back
        self.labels = LabelBounds(
            settings, label_registry or MemoryLabelRegistry(), policies, health.overflowed
        )
        # The partitions whose numbers are exported; None while they are in flux.
        self.owned: set[int] | None = None
        self.view = StateView(self)
        self.topic_types = settings.input_topics
        # The topics whose offsets the progress record keeps: the inputs and the contacts.
        self._progressed = frozenset((*self.topic_types, settings.topic_customer_contacts))
        self.rules = ConversationRules(
            sentiment=SentimentRules(
                settings.negative_sentiment_below, settings.positive_sentiment_above
            ),
            inactivity_seconds=settings.inactivity_resolution_seconds,
            at_risk_margin_seconds=settings.at_risk_margin_seconds,
            teams=frozenset(settings.teams) if settings.teams is not None else None,
            agents=frozenset(settings.agent_labels),
            churn_phrases=ChurnPhrases(
                DEFAULT_CHURN_PHRASES if settings.churn_phrases is None else settings.churn_phrases
            ),
        )
        self.scorer = load_scorer(settings.sentiment_scorer)
        # SOCIALCARE_CORE=native: the fold, its indexes and the aggregates' writes natively.
        self.native: NativeCores | None = None
        if settings.fold_core == "native":
            self.native = NativeCores(
                settings, tables, self.rules, policies, self.conversations, self.contacts,
                self.csat_models,
            )  # fmt: skip
        elif settings.core == "auto":
            log.info("the Python core folds the conversations: the native core, about 1.6x "
                     "the events per CPU second, is not built (pip install ./native)")  # fmt: skip

    # -- partitions ---------------------------------------------------------------------------

    def assign(self, partitions: set[int]) -> None:
        """The partitions owned now, their tables recovered: index the new ones, export all."""
        self._index(partitions - self.conversations.indexed)
        self.owned = set(partitions)

    def revoke(self, partitions: set[int] | None = None) -> None:
        """Partitions in flux (all if None): drop their indexes; export nothing until `assign`."""
        self.owned = None
        lost = set(self.conversations.indexed) if partitions is None else partitions
        if self.native is not None:  # first: what it still holds goes to the store's indexes
            self.native.forget(lost)
        self.clock.forget(partitions)
        self.conversations.forget(lost)
        self.aggregates.forget(lost)
        self.seen.forget(lost)
        self.customers.forget(lost)
        self.csat_models.forget(lost)

    def _index(self, partitions: set[int]) -> None:
        if not partitions:
            return
        self.clock.forget(partitions)  # their tables were restored since
        checks = self.conversations.index(partitions)
        if self.native is not None:  # the cores keep the buckets' expiry themselves
            buckets = self.native.index(partitions)
        else:
            buckets = self.aggregates.index(partitions)
        watermarks = {partition: self.clock.watermark(partition) for partition in partitions}
        self.seen.index(partitions, {
            partition: mark for partition, mark in watermarks.items() if mark is not None
        })  # fmt: skip
        customers_known = self.customers.index(partitions)
        log.info(
            "partitions %s indexed: %d clock checks, %d window buckets, %d customers",
            sorted(partitions), checks, buckets, customers_known,
        )  # fmt: skip

    def _ensure_indexed(self, partition: int) -> None:
        """A partition met before its assignment was announced (unit tests, a race)."""
        if partition not in self.conversations.indexed:
            self._index({partition})

    # -- a batch ------------------------------------------------------------------------------

    async def handle_batch(self, messages: list[Message]) -> set[int]:
        """Process messages in order and write the batch; returns the partitions whose
        batch could not be written because another worker owns them now (nothing of them
        may be acknowledged). See `process`."""
        return await (await self.process(messages)).lost()

    async def process(self, messages: list[Message]) -> Committing:
        """Process messages in order and start writing the batch; never raises for bad
        input.

        One Redis round trip and one checkpoint per batch. The worker processes the next
        batch while this one is written (`StateCheckpoint.begin`).

        The aggregates are the same as handling them one by one: events are folded in order,
        so the lateness check of each sees the event time left by the ones before it; the
        clock is swept once per partition at the end of the batch (only `swept_until`, the
        clock's bookkeeping in the states, differs). A record whose offset is below its
        partition's progress is already in the state (a redelivery after a crash or a
        rebalance): it is skipped.
        """
        fresh, progress = self._unapplied(messages)
        decoded = [self._decode(message) for message in fresh]
        # The content's digest before label values out of bounds become `other`: whether a
        # brand got a label of its own must not make a re-sent copy look like other content.
        digests = [content_digest(item) if isinstance(item, AnyEvent) else "" for item in decoded]
        decoded = await self.labels.bound(decoded)
        events = [(m, item, digest) for m, item, digest in zip(fresh, decoded, digests, strict=True)
                  if isinstance(item, AnyEvent)]  # fmt: skip
        # Redis answers for ids older than the state remembers; None while it is down
        # (then an old copy is dead-lettered as too late instead of called a duplicate).
        verdicts = (
            await self.dedup.sightings(
                [item.event_id for _, item, _ in events],
                [f"{m.topic}/{m.partition}/{m.offset} {digest}" for m, _, digest in events],
            )
            if events
            else []
        )
        window = iter(verdicts if verdicts is not None else [Sighting(FIRST)] * len(events))
        # Health numbers are told once per batch, not per event.
        outcomes: Counter[tuple[str, str]] = Counter()
        counted_times: list[float] = []
        produced_at: list[float | None] = []
        unmark: list[str] = []
        letters: list[tuple[Message, Rejection, str]] = []
        touched: set[int] = {message.partition for message in messages}
        contacts: list[Message] = []
        for message, item, digest in zip(fresh, decoded, digests, strict=True):
            if item is None:
                if message.topic == self.contacts.topic:
                    contacts.append(message)
                continue  # or a clock tick: the sweep below covers its partition
            if isinstance(item, Rejection):
                letters.append((message, item, self.topic_types.get(message.topic, "unknown")))
                continue
            seen = next(window)
            if seen.outcome == FIRST:
                # The state remembers every id counted within the allowed lateness.
                known = self.seen.digest_of(message.partition, item.event_id)
                if known is not None:
                    seen = seen_before(known, digest)
                    if seen.outcome == CONFLICT and verdicts is not None:
                        unmark.append(item.event_id)  # the window took this one's mark
            if seen.outcome == DUPLICATE:
                # Already counted (a re-sent file, a copy under another offset): whatever
                # its time, it is a duplicate, not a late event.
                outcomes[(item.type, "duplicate")] += 1
                continue
            if seen.outcome == CONFLICT:
                letters.append((message, conflict_rejection(item, seen), item.type))
                continue
            rejection = self._fold(message.partition, item)
            if rejection is not None:
                # Not counted: a retry after a fix must not be taken for a duplicate.
                unmark.append(item.event_id)
                letters.append((message, rejection, item.type))
                continue
            self.seen.add(message.partition, item.event_id, item.occurred_ts, digest)
            outcomes[(item.type, "counted")] += 1
            counted_times.append(item.occurred_ts)
            produced_at.append(message.timestamp)
        # Every fresh record's fate is decided now: a crash from here on must not apply it
        # twice. One write per partition, not per record.
        for partition, done in progress.items():
            if done != self.tables.progress.get(partition):
                self.tables.progress[partition] = done
        self._fold_contacts(contacts, letters)
        for partition in sorted(touched):
            try:
                self.sweep(partition)
            except Exception:
                # Time-driven work must not stop event processing; the next tick retries.
                log.exception("deadline sweep failed on partition %d", partition)
                self.conversations.discard_partition(partition)
                self.health.processing_error()
        if self.native is not None:
            self.native.flush()  # the tables written, the customers' facts told
        for partition, record in self.contacts.take_records():
            self.send_contact(partition, record)
        while self._loopback:
            looped, self._loopback = self._loopback, []
            self._fold_contacts(looped, letters)
        if self.native is not None:
            self.native.flush()
        self.aggregates.flush()
        self.csat_models.flush()
        self.clock.flush()
        self.seen.seal()
        self.health.processed_counts(outcomes)
        self.health.observe_events(counted_times, produced_at)
        if unmark:
            await self.dedup.forget(unmark)
        for message, rejection, event_type in letters:
            await self.dead_letters.put(message, rejection, event_type)
        return await self.checkpoint.begin()

    def _unapplied(
        self, messages: list[Message]
    ) -> tuple[list[Message], dict[int, dict[str, int]]]:
        """The messages not yet in the state (ticks, input past the recorded progress), and
        each partition's progress once they are processed.

        The progress moves with the batch, so a record met twice in one batch counts once.
        """
        fresh = []
        progress: dict[int, dict[str, int]] = {}
        for message in messages:
            if message.topic in self._progressed:
                done = progress.get(message.partition)
                if done is None:
                    done = dict(self.tables.progress.get(message.partition) or {})
                    progress[message.partition] = done
                if message.offset < done.get(message.topic, 0):
                    event_type = self.topic_types.get(message.topic)
                    if event_type is not None:  # contact records are not input events
                        self.health.processed(event_type, "redelivered")
                    continue
                done[message.topic] = message.offset + 1
            fresh.append(message)
        return fresh, progress

    def _decode(self, message: Message) -> AnyEvent | Rejection | None:
        """The event, why it is not one, or None for a clock tick or a customer contact."""
        if message.topic == self.settings.topic_ticks or message.topic == self.contacts.topic:
            return None
        expected = self.topic_types.get(message.topic)
        if expected is None:
            return Rejection("wrong_topic", f"{message.topic} is not an input topic")
        return decode_event(message.value, expected, self.settings.max_event_bytes)

    def _fold(self, partition: int, event: AnyEvent) -> Rejection | None:
        """Check and apply a first-seen event; a rejection if it cannot be counted."""
        rejection = self.clock.rejection(partition, event)
        if rejection is not None:
            return rejection
        try:
            return self.apply(partition, event)
        except Exception as exc:
            log.exception("processing failed for event %s", event.event_id)
            if not isinstance(event, ContactCount):  # its state may be changed half way
                self.conversations.discard(event.conversation_id, partition)
                if self.native is not None:
                    self.native.discard(partition, event.conversation_id)
            self.health.processing_error()
            return Rejection("processing_error", f"{type(exc).__name__}: {exc}", event.event_id)

    # -- one event ----------------------------------------------------------------------------

    def apply(self, partition: int, event: AnyEvent) -> Rejection | None:
        """Fold a valid, first-seen event into its conversation and the aggregates."""
        self._ensure_indexed(partition)
        if isinstance(event, ContactCount):
            self._aggregate(partition, conversation.event_increments(event))
            self.clock.advance(partition, event.occurred_ts)
            return None
        if isinstance(event, Mention):
            event = with_sentiment(event, self.scorer)
        if self.native is not None:
            clock = self.clock
            refused = self.native.apply(
                partition, event, clock.watermark(partition), clock.window_now(partition)
            )
            if refused is None:
                clock.advance(partition, event.occurred_ts)
            return refused
        store = self.conversations
        state = store.load(event.conversation_id, partition)
        last = state.last_event_at
        if last is not None and event.occurred_ts - last > self.settings.conversation_ttl_seconds:
            # Idle past the TTL: forgotten, whether or not the sweep got to it first (that
            # depends on other conversations' events); this event starts it afresh.
            self._aggregate(partition, conversation.retirement(state))
            store.delete(state)
            state = store.load(event.conversation_id, partition)
        contradiction = order_rejection(state, event)
        if contradiction is not None:
            return contradiction
        if conversation.settled_before(state, event.occurred_ts):
            return settled_rejection(state, event)
        conversation.settle(state, self.clock.watermark(partition))
        is_new = state.last_event_at is None
        delta = conversation.apply_event(state, event, self.policies, self.rules)
        for key, amount in conversation.event_increments(event, self.rules).items():
            delta[key] = delta.get(key, 0.0) + amount
        if self.settings.predictions:
            scored = csat_scoring.on_event(
                state,
                self.csat_models.of(partition),
                event.occurred_ts,
                isinstance(event, Reply) and bool(event.resolves),
                int(event.score) if isinstance(event, Survey) and event.kind == "csat" else None,
                self.settings.csat_holdout_share,
            )
            for key, amount in scored.items():
                delta[key] = delta.get(key, 0.0) + amount
        self._tell_customer(partition, state)
        store.store(state)
        self._aggregate(partition, delta)
        if is_new:
            store.opened(state)
        self.clock.advance(partition, event.occurred_ts)
        return None

    def _aggregate(self, partition: int, delta: Contributions) -> None:
        if self.native is not None:
            self.native.add(partition, delta, self.clock.window_now(partition))
        else:
            self.aggregates.add(partition, delta, self.clock.window_now(partition))

    # -- time-driven work ---------------------------------------------------------------------

    def sweep(self, partition: int) -> None:
        """Breach overdue conversations, forget idle ones, expire window buckets."""
        self._ensure_indexed(partition)
        now = self.clock.deadline_now(partition)
        idle_before = now - self.settings.conversation_ttl_seconds
        if self.native is not None:
            self.native.sweep(partition, now, idle_before, self.clock.window_now(partition))
        else:
            self._sweep_states(partition, now, idle_before)
        latest = self.clock.stream_time(partition)
        if latest is not None:
            self.seen.expire(partition, latest - self.settings.allowed_lateness_seconds)
            self.customers.expire(partition, latest)

    def _sweep_states(self, partition: int, now: float, idle_before: float) -> None:
        store = self.conversations
        for state in store.due(partition, now):
            delta = conversation.sweep(state, now)
            if delta is not None:
                if self.settings.predictions:
                    scored = csat_scoring.on_clock(state, self.csat_models.of(partition))
                    for key, amount in scored.items():
                        delta[key] = delta.get(key, 0.0) + amount
                self._tell_customer(partition, state)
                store.store(state)
                self._aggregate(partition, delta)
        # Idle by the watermark, not the latest event time: an event within the allowed
        # lateness may still come for the conversation.
        for state in store.idle(partition, idle_before):
            self._aggregate(partition, conversation.retirement(state))
            store.delete(state)
        self.aggregates.expire(partition, self.clock.window_now(partition))

    # -- customers ----------------------------------------------------------------------------

    def _tell_customer(self, partition: int, state: ConversationState) -> None:
        """Tell the conversation's customer's partition its facts if they changed (sent at
        the end of the batch, with the facts of the batch's other conversations)."""
        facts = customers.facts_to_tell(state)
        if facts is not None:
            self.contacts.tell(partition, facts)

    def _loop_back(self, partition: int, record: Outgoing) -> None:
        target = partition if record.partition is None else record.partition
        self._loopback.append(Message(record.topic, target, -1, record.key, record.value))

    def _fold_contacts(
        self, messages: list[Message], letters: list[tuple[Message, Rejection, str]]
    ) -> None:
        """Fold conversations' facts into their customers (partition of the record).

        A fact that fails is dead-lettered alone (a record of that fact): the record's other
        facts are counted, and a replay of the dead letter must not count them again."""
        for message in messages:
            told = decode_facts(message.value)
            if isinstance(told, Rejection):
                letters.append((message, told, "unknown"))  # internal: no event type
                continue
            self._ensure_indexed(message.partition)
            for facts in told:
                try:
                    self._aggregate(
                        message.partition, self.customers.apply(message.partition, facts)
                    )
                except Exception as exc:
                    log.exception("customer contact of %s failed", facts.conversation_id)
                    self.health.processing_error()
                    error = Rejection("processing_error", f"{type(exc).__name__}: {exc}")
                    alone = replace(message, value=encode_facts([facts]))
                    letters.append((alone, error, "unknown"))


class StateView:
    """What the scrape may read of a pipeline: owned records, backlog indexes, clocks."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def exported_partitions(self) -> set[int] | None:
        """The partitions owned now, None while a rebalance or recovery is under way."""
        owned = self._pipeline.owned
        return None if owned is None else set(owned)

    @property
    def team_staffing(self) -> dict[str, TeamStaffing]:
        return self._pipeline.settings.team_staffing

    def window_now(self, partition: int) -> float:
        return self._pipeline.clock.window_now(partition)

    def owned_totals(self, partitions: set[int]) -> Iterator[TotalsRow]:
        return self._pipeline.aggregates.totals_of(partitions)

    def owned_buckets(self, partitions: set[int]) -> Iterator[BucketRow]:
        return self._pipeline.aggregates.buckets_of(partitions)

    def open_ages(self, partitions: set[int]) -> dict[tuple[str, str, str], int]:
        """Open conversations of the partitions by (brand, channel, age bucket)."""
        counts: dict[tuple[str, str, str], int] = defaultdict(int)
        store = self._pipeline.conversations
        for partition in partitions:
            for key, count in store.open_ages(partition, self.window_now(partition)).items():
                counts[key] += count
        return counts

    def open_by_priority(self, partitions: set[int]) -> dict[tuple[str, str, str, str], int]:
        """Open conversations of the partitions by (brand, channel, priority, backlog state)."""
        counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
        for partition in partitions:
            for key, count in self._pipeline.conversations.open_by_priority(partition).items():
                counts[key] += count
        return counts

    def breach_forecast(self, partitions: set[int]) -> dict[ForecastKey, float]:
        """Expected first-response breaches of the partitions, by (brand, channel, priority,
        horizon)."""
        pipeline = self._pipeline
        if not pipeline.settings.predictions:
            return {}
        store = pipeline.conversations
        return breach_forecast(
            partitions, store.backlog, store.history, self.window_now,
            staffed_pool(pipeline.settings.team_staffing), pipeline.settings.partitions,
        )  # fmt: skip
