"""Conversation states in their table, and the per-partition indexes derived from them.

The indexes say which conversations the clock alone will change next (deadlines, at-risk
moments, inactivity), which have been idle for the TTL, and which are open (the backlog by
age and priority, read at scrape time). They are derived data: rebuilt from the table when
a partition is assigned, dropped when it is revoked, never built during a scrape.

A stored state carries its own index entries (`_index`: the next clock check and the open
backlog entry, computed when it was written, and what it tells the breach forecast's history,
`QueueFacts`), so rebuilding a partition's indexes reads the documents without following each
conversation again: a million states in seconds.
"""

from __future__ import annotations

import heapq
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from typing import Any, cast

from processor.domain import conversation, thread_tail
from processor.domain.conversation import ConversationState
from processor.domain.thread import Mark
from processor.domain.thread_tail import ChunkStore
from processor.state.records import plain
from processor.stream.backlog import OpenBacklog, OpenConversation
from processor.stream.clock_checks import ClockChecks
from processor.stream.interfaces import Table
from processor.stream.queue_history import QueueFacts, QueueHistory

log = logging.getLogger(__name__)

# Recently written states kept as objects, by table key (least recently used dropped
# first): an event of a live conversation then neither reads RocksDB nor decodes its
# document, and its current values (`conversation.current`) are computed once, not twice.
STATES_KEPT = 20_000
# The index entries a stored document carries: [next check, open entry or None, first
# response time or None] (the third since the breach forecast: with the document's own
# fields, its `QueueFacts`; a document without it is followed again).
INDEX_FIELD = "_index"


def table_key(partition: int, conversation_id: str) -> str:
    """A conversation's key in the table: its partition first, so every key names it."""
    return f"{partition}|{conversation_id}"


class TableChunks:
    """A conversation's closed tail chunks in the threads table (see `thread_tail`)."""

    __slots__ = ("prefix", "table")

    def __init__(self, table: Table, partition: int, conversation_id: str) -> None:
        self.table = table
        self.prefix = f"{table_key(partition, conversation_id)}|"

    def read(self, number: int) -> list[Mark]:
        return [(at, code) for at, code in self.table[f"{self.prefix}{number}"]]

    def write(self, number: int, marks: list[Mark]) -> None:
        self.table[f"{self.prefix}{number}"] = [list(mark) for mark in marks]

    def delete(self, number: int) -> None:
        key = f"{self.prefix}{number}"
        if key in self.table:
            del self.table[key]


def state_of(document: dict[str, Any], chunks: ChunkStore | None = None) -> ConversationState:
    """The state of a stored document (its index entries left aside)."""
    return ConversationState.from_json(document, chunks)


Entries = tuple[float | None, OpenConversation | None, QueueFacts | None]


def _entries(state: ConversationState) -> Entries:
    """The index entries of a state: next check, backlog entry, queue facts."""
    due, backlog, first_response_at = conversation.index_entries(state)
    brand, channel, opened_at = state.brand, state.channel, state.opened_at
    if not brand or not channel or opened_at is None:
        return due, None, None
    facts = QueueFacts(
        brand, channel, state.priority, opened_at, first_response_at, state.first_response_target
    )
    if backlog is None:
        return due, None, facts
    awaiting = state.first_response_deadline if first_response_at is None else None
    entry = OpenConversation(brand, channel, opened_at, state.priority, backlog, awaiting)
    return due, entry, facts


def _hint(due: float | None, entry: OpenConversation | None, facts: QueueFacts | None) -> list[Any]:
    """What a stored document carries of its index entries."""
    answered = None if facts is None else facts.first_response_at
    return [due, None if entry is None else list(entry), answered]


def facts_of(document: dict[str, Any], first_response_at: float | None) -> QueueFacts | None:
    """The queue facts of a stored document, its first response time given."""
    brand, channel = document.get("brand"), document.get("channel")
    opened_at = document.get("opened_at")
    if not brand or not channel or opened_at is None:
        return None
    return QueueFacts(brand, channel, document.get("priority", "normal"), opened_at,
                      first_response_at, document.get("first_response_target"))  # fmt: skip


def _with_stored_index(state: ConversationState, document: dict[str, Any]) -> ConversationState:
    """The state with the index entries of its document as loaded, [next check, entry,
    queue facts] (found again, from the state as loaded, for a document written before
    them)."""
    hint = document.get(INDEX_FIELD)
    if hint is None or len(hint) < 3:
        state.stored_index = list(_entries(state))
    else:
        state.stored_index = [hint[0], hint[1], facts_of(document, hint[2])]
    return state


def partition_items(table: Table, partition: int) -> Iterator[tuple[Any, Any]]:
    """The (key, document) pairs of a partition of a table keyed `"<partition>|..."`."""
    items_of = getattr(table, "items_of", None)
    if items_of is not None:  # the state store: one range of the partition
        for key, document in items_of(partition):
            yield key, plain(document)
        return
    prefix = f"{partition}|"
    for key, document in list(table.items()):
        if key.startswith(prefix):
            yield key, plain(document)


class ConversationStore:
    """Load and store states; keep the clock-check, idle and open indexes in step."""

    def __init__(
        self,
        table: Table,
        threads: Table | None = None,
        states_kept: int = STATES_KEPT,
        history: bool = True,
    ) -> None:
        self.table = table
        self.threads: Table = {} if threads is None else threads  # closed tail chunks
        # When the clock alone next changes each conversation (entries may be early: the
        # state is checked when its entry comes due).
        self._checks: dict[int, ClockChecks] = defaultdict(ClockChecks)
        # Conversations by last event time, to forget idle ones (one entry per conversation).
        self._idle: dict[int, list[tuple[float, str]]] = defaultdict(list)
        self._open: dict[int, OpenBacklog] = defaultdict(OpenBacklog)
        self._history: dict[int, QueueHistory] = defaultdict(QueueHistory)
        # Without the breach forecast (SOCIALCARE_PREDICTIONS=false) nothing reads the
        # history: it stays empty. The documents carry their queue facts all the same, so
        # a restart with the forecast on counts them again.
        self._keeps_history = history
        # The states as last stored, most recently stored last. A state here is the one its
        # table document was written from: changed only by a caller that stores it after
        # (or discards it when the change fails half way). An OrderedDict, not a dict: once
        # the cache is full, storing a state not in it evicts the least recently stored,
        # and a dict's first entry is found by skipping the holes its deletions left at
        # the front (about 7 µs an eviction with 20,000 kept, against 1 µs here).
        self._live: OrderedDict[str, ConversationState] = OrderedDict()
        self._states_kept = states_kept
        self.indexed: set[int] = set()

    def load(self, conversation_id: str, partition: int) -> ConversationState:
        """The stored state, or a new empty one on this partition (to be stored by the
        caller if it changes it)."""
        key = table_key(partition, conversation_id)
        live = self._live.get(key)
        if live is not None:
            return live
        document = self.table.get(key)
        chunks = self.chunks(partition, conversation_id)
        if document is None:
            return ConversationState(
                conversation_id=conversation_id, partition=partition, chunk_store=chunks
            )
        return _with_stored_index(state_of(document, chunks), document)

    def discard(self, conversation_id: str, partition: int) -> None:
        """A change of the state failed half way: read it from its document again."""
        self._live.pop(table_key(partition, conversation_id), None)

    def discard_partition(self, partition: int) -> None:
        """A change of some state of the partition failed half way (a sweep's)."""
        self._drop_live({partition})

    def _drop_live(self, partitions: set[int]) -> None:
        prefixes = tuple(f"{partition}|" for partition in partitions)
        for key in [key for key in self._live if key.startswith(prefixes)]:
            del self._live[key]

    def chunks(self, partition: int, conversation_id: str) -> TableChunks:
        """The conversation's closed tail chunks."""
        return TableChunks(self.threads, partition, conversation_id)

    def store(self, state: ConversationState) -> None:
        """Write a state (with its index entries) and bring the indexes up to date."""
        due, entry, facts = _entries(state)
        self._checks[state.partition].schedule(state.conversation_id, due)
        self._open[state.partition].put(state.conversation_id, entry)
        if self._keeps_history:
            self._history[state.partition].change(self._facts_before(state), facts)
        document = state.to_json()
        document[INDEX_FIELD] = _hint(due, entry, facts)
        state.stored_index = [due, entry, facts]
        key = table_key(state.partition, state.conversation_id)
        self.table[key] = document
        live = self._live
        live[key] = state
        live.move_to_end(key)  # the least recently stored go first
        if len(live) > self._states_kept:
            live.popitem(last=False)

    def opened(self, state: ConversationState) -> None:
        """A new conversation: watch it for idleness."""
        if state.last_event_at is not None:
            heapq.heappush(
                self._idle[state.partition], (state.last_event_at, state.conversation_id)
            )

    def due(self, partition: int, now: float) -> Iterator[ConversationState]:
        """States whose next clock check is at or before `now` (each popped once)."""
        checks = self._checks[partition]
        for conversation_id in checks.due(now):
            key = table_key(partition, conversation_id)
            state = self._live.get(key)
            if state is None:
                document = self.table.get(key)
                if document is None:
                    continue  # forgotten since
                # Not kept: the sweep may move its clock without storing it.
                chunks = self.chunks(partition, conversation_id)
                state = _with_stored_index(state_of(document, chunks), document)
            assert state.stored_index is not None
            stored_due = state.stored_index[0]
            if stored_due is None or stored_due > now:
                # An early entry (its check moved later since): the clock changes nothing
                # yet; its stored check waits in the heap instead.
                checks.schedule(conversation_id, stored_due)
                continue
            yield state

    def idle(self, partition: int, idle_before: float) -> Iterator[ConversationState]:
        """States with no event since `idle_before`; the caller retires them with `delete`."""
        idle = self._idle[partition]
        while idle and idle[0][0] < idle_before:
            _, conversation_id = heapq.heappop(idle)
            state = self.load(conversation_id, partition)
            if state.stored_index is None:
                continue  # not in the table (deleted)
            last = state.last_event_at
            if last is not None and last >= idle_before:
                heapq.heappush(idle, (last, conversation_id))  # active since: look again later
                continue
            yield state

    def delete(self, state: ConversationState) -> None:
        thread_tail.drop(state)
        key = table_key(state.partition, state.conversation_id)
        del self.table[key]
        self._live.pop(key, None)
        self._open[state.partition].put(state.conversation_id, None)
        if self._keeps_history:
            self._history[state.partition].change(self._facts_before(state), None)

    def _facts_before(self, state: ConversationState) -> QueueFacts | None:
        """The queue facts its stored document carried (none for a new conversation)."""
        loaded = state.stored_index
        return None if loaded is None else cast(QueueFacts | None, loaded[2])

    # -- indexes ------------------------------------------------------------------------------

    def index(self, partitions: set[int]) -> int:
        """Rebuild the indexes of these partitions from the table, one partition at a time.

        From the entries each document carries; a document without them (written by an
        older version) is followed again.
        """
        checked = 0
        self._drop_live(partitions)
        for partition in partitions:
            checks: list[tuple[float, str]] = []
            idle: list[tuple[float, str]] = []
            open_now = OpenBacklog()
            history = QueueHistory()
            for key, document in partition_items(self.table, partition):
                conversation_id = key.split("|", 1)[1]
                last_event_at = document.get("last_event_at")
                if last_event_at is not None:
                    idle.append((last_event_at, conversation_id))
                hint = document.get(INDEX_FIELD)
                if hint is None or len(hint) < 3:
                    due, entry, facts = _entries(state_of(document))
                else:
                    due, stored, answered = hint
                    entry = None if stored is None else OpenConversation(*stored)
                    facts = facts_of(document, answered)
                if self._keeps_history:
                    history.change(None, facts)
                if entry is not None:
                    open_now.put(conversation_id, entry)
                if due is not None:
                    checks.append((due, conversation_id))
            heapq.heapify(idle)
            self._checks[partition] = ClockChecks(checks)
            self._idle[partition] = idle
            self._open[partition] = open_now
            self._history[partition] = history
            checked += len(checks)
        self.indexed |= partitions
        return checked

    def take_clock_indexes(
        self, partition: int
    ) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
        """The partition's clock checks and idle entries, handed over to a native core
        (`processor.stream.native_core`), which keeps them from then on."""
        checks = self._checks.pop(partition, ClockChecks()).entries()
        return checks, self._idle.pop(partition, [])

    def index_change(
        self,
        partition: int,
        conversation_id: str,
        entry: OpenConversation | None,
        facts_before: QueueFacts | None,
        facts_after: QueueFacts | None,
    ) -> None:
        """A native core stored or deleted a conversation: its backlog entry and facts."""
        self._open[partition].put(conversation_id, entry)
        if self._keeps_history:
            self._history[partition].change(facts_before, facts_after)

    def forget(self, partitions: set[int]) -> None:
        """Drop the derived data of revoked partitions."""
        self._drop_live(partitions)
        for partition in partitions:
            self.indexed.discard(partition)
            self._checks.pop(partition, None)
            self._idle.pop(partition, None)
            self._open.pop(partition, None)
            self._history.pop(partition, None)

    # -- reading (the scrape) -------------------------------------------------------------------

    def open_ages(self, partition: int, now: float) -> dict[tuple[str, str, str], int]:
        """Open conversations of a partition by (brand, channel, age bucket) at `now`."""
        backlog = self._open.get(partition)
        return {} if backlog is None else backlog.by_age(now)

    def open_by_priority(self, partition: int) -> dict[tuple[str, str, str, str], int]:
        """Open conversations of a partition by (brand, channel, priority, backlog state)."""
        backlog = self._open.get(partition)
        return {} if backlog is None else backlog.by_priority()

    def history(self, partition: int) -> QueueHistory:
        """The partition's openings and first responses, counted (the breach forecast's)."""
        return self._history[partition]

    def backlog(self, partition: int) -> OpenBacklog:
        """The partition's open conversations (tests seed it directly)."""
        return self._open[partition]

    def clock_checks(self, partition: int) -> ClockChecks:
        """The partition's clock checks (for tests and benchmarks: their size)."""
        return self._checks[partition]
