"""Per-conversation state as a summary that each event changes in constant time.

The metrics of a conversation are a function of its events, whatever the order in which
they arrived across the four topics: the aggregates get, for each event, the difference it
makes to what the conversation stands for, so a replay gives the numbers live processing
gives. A conversation is not kept as its whole timeline (a viral thread has thousands of
posts): it is a header (labels, targets, counts, quality), the walk of its thread so far
(`processor.domain.thread.ThreadWalk`, a fixed handful of numbers) and the tail of posts
that an event still inside the allowed lateness could reorder.

- An event after every post walked so far (the common case in time-aligned input) steps
  the walk once and adds what the step completed: O(1).
- An event inside the tail replays the tail from the settled walk: bounded by the posts of
  one allowed lateness, not by the thread.
- `settle` moves the posts older than the partition's watermark out of the tail into the
  settled walk: nothing can reorder them any more (an event that old is dead-lettered as
  too late), and what they completed is counted for good.

Event-level counts (every post, every redirection) do not depend on the conversation
and are returned by `event_increments`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processor.domain import thread_tail
from processor.domain.business_hours import calendar_from_json
from processor.domain.churn import NO_PHRASES, ChurnPhrases, states_leaving
from processor.domain.contributions import (
    AT_RISK,
    AWAITING_CUSTOMER,
    AWAITING_FIRST_RESPONSE,
    AWAITING_NEXT_RESPONSE,
    BREACHED,
    OPEN_STATES,
    add_item,
    open_state,
    view,
    waiting_deadline,
)
from processor.domain.events import ContactCount, Mention, Redirection, Reply, Survey
from processor.domain.quality import SentimentRules
from processor.domain.reviews import fold_rating
from processor.domain.sla import SlaPolicyCache
from processor.domain.thread import BOT, CUSTOMER, HUMAN, RESOLVE, Item, Mark, ThreadWalk, mark_key
from processor.domain.thread_tail import ChunkRef, ChunkStore, MemoryChunks
from processor.metrics import families as f
from processor.metrics.series import Contributions, count

__all__ = [
    "AT_RISK", "AWAITING_CUSTOMER", "AWAITING_FIRST_RESPONSE", "AWAITING_NEXT_RESPONSE",
    "BREACHED", "OPEN_STATES",
]  # fmt: skip

# Surveys are few per conversation; a flood of them must not grow the state.
MAX_SURVEYS = 32
# Left out of a stored document when the conversation is no review (defaults when read).
REVIEW_FIELDS = (
    "review_source",
    "first_rating",
    "first_rating_at",
    "last_rating",
    "last_rating_at",
)
# Left out of a stored document while they hold their default (most conversations).
SPARSE_FIELDS = (
    ("inquiry_type", None),
    ("predicted_csat", None),
    ("scored_resolutions", 0),
    ("csat_learned", 0),
    ("clock_scored_at", None),
)


@dataclass(frozen=True)
class ConversationRules:
    """Configuration that shapes the metrics; recorded in a state when it opens."""

    sentiment: SentimentRules = field(default_factory=SentimentRules)
    inactivity_seconds: float = 86400.0  # 0: no resolution by inactivity
    at_risk_margin_seconds: float = 600.0
    # Label values are bounded: teams outside the allowlist (if any) become "other",
    # agents are labelled only when listed (else no per-agent series at all).
    teams: frozenset[str] | None = None
    agents: frozenset[str] = frozenset()
    # What a customer's text must say to flag the conversation as a churn risk.
    churn_phrases: ChurnPhrases = NO_PHRASES

    def team_label(self, team: str | None) -> str:
        if team is None:
            return "unassigned"
        if self.teams is not None and team not in self.teams:
            return "other"
        return team


DEFAULT_RULES = ConversationRules()


@dataclass
class ConversationState:
    """What the processor knows of one conversation; stored as JSON in the changelog."""

    conversation_id: str
    partition: int
    brand: str | None = None
    channel: str | None = None
    priority: str = "normal"
    opened_at: float | None = None  # the earliest customer post
    customer_posts: int = 0
    brand_posts: int = 0
    automated_posts: int = 0
    first_response_target: float | None = None
    next_response_target: float | None = None
    resolution_target: float | None = None
    inactivity_seconds: float = 0.0
    at_risk_margin: float = 0.0
    negative_below: float | None = None
    calendar: dict[str, Any] | None = None  # business hours the clocks follow (None: 24/7)
    customer_value: float | None = None  # the largest customer_value of its mentions
    # Sentiment: of the opening post (the lowest at that instant, None lowest), the highest
    # of the posts at that instant, the highest of the later customer posts.
    opening_sentiment: float | None = None
    opening_instant_sentiment: float | None = None
    later_sentiment_max: float | None = None
    redirections: dict[str, float] = field(default_factory=dict)  # channel -> earliest time
    surveys: list[tuple[str, int]] = field(default_factory=list)
    churn_risk_at: float | None = None  # the earliest customer post saying they are leaving
    # The opening post's author; [opened_at, resolved_at] as told (`domain.customers`).
    customer_id: str | None = None
    customer_told: list[float | None] | None = None
    # An online review (`processor.domain.reviews`): its site, first and latest rating.
    review_source: str | None = None
    first_rating: int | None = None
    first_rating_at: float | None = None
    last_rating: int | None = None
    last_rating_at: float | None = None
    # The opening post's inquiry type; the predicted CSAT of its latest scored resolution,
    # how many resolutions were scored and how many CSAT answers the model learned from
    # and the last reply of the resolution by inactivity the clock scored
    # (`processor.predict.csat_scoring`).
    inquiry_type: str | None = None
    predicted_csat: float | None = None
    scored_resolutions: int = 0
    csat_learned: int = 0
    clock_scored_at: float | None = None
    swept_until: float | None = None
    last_event_at: float | None = None
    # The walk: `settled` up to `settled_until` (nothing earlier can arrive), the marks
    # since in `chunks` (closed, each its own record) and `tail` (the open chunk), sorted
    # by `mark_key` (see `thread_tail`); `walk`: the settled walk stepped through them.
    settled_until: float | None = None
    settled: ThreadWalk = field(default_factory=ThreadWalk)
    chunks: list[ChunkRef] = field(default_factory=list)
    next_chunk: int = 0
    tail: list[Mark] = field(default_factory=list)
    walk: ThreadWalk = field(default_factory=ThreadWalk)
    # Where the closed chunks are read and written (the store's table in a worker).
    chunk_store: ChunkStore = field(default_factory=MemoryChunks, compare=False, repr=False)
    # `current` of the state as it is (derived, never stored; None: to be computed); the
    # index entries of its document as loaded (the store's, never stored with it).
    current_values: Contributions | None = field(default=None, compare=False, repr=False)
    stored_index: list[Any] | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        document = dict(self.__dict__)
        del document["current_values"], document["chunk_store"], document["stored_index"]
        if self.first_rating is None:  # most conversations are no reviews: 100 bytes less
            for name in REVIEW_FIELDS:
                del document[name]
        for name, default in SPARSE_FIELDS:
            if document[name] == default:
                del document[name]
        document["chunks"] = [list(ref) for ref in self.chunks]
        document["surveys"] = [list(pair) for pair in self.surveys]
        document["redirections"] = dict(self.redirections)
        document["tail"] = list(self.tail)
        document["settled"] = self.settled.to_json()
        document["walk"] = self.walk.to_json()
        return document

    @classmethod
    def from_json(
        cls, document: dict[str, Any], chunk_store: ChunkStore | None = None
    ) -> ConversationState:
        """The state of a stored document; its closed chunks are read from `chunk_store`."""
        if "walk" not in document:
            # Imported here: the upgrade builds states with this module's functions.
            from processor.domain.legacy_state import upgrade

            state = upgrade(document)
            if chunk_store is not None:
                state.chunk_store = chunk_store
            return state
        values = dict(document)
        if chunk_store is not None:
            values["chunk_store"] = chunk_store
        if "chunks" in values:
            values["chunks"] = [list(ref) for ref in document["chunks"]]
        values.pop("_index", None)  # the index entries the store writes beside the state
        values["settled"] = ThreadWalk.from_json(document["settled"])
        values["walk"] = ThreadWalk.from_json(document["walk"])
        # A stored document is shared with the table until its batch is written: the state
        # changes only its own lists.
        values["tail"] = [(at, code) for at, code in document["tail"]]
        values["surveys"] = [(kind, score) for kind, score in document["surveys"]]
        values["redirections"] = dict(document["redirections"])
        if document.get("customer_told") is not None:
            values["customer_told"] = list(document["customer_told"])
        return cls(**values)

    @property
    def swept(self) -> float:
        return self.swept_until if self.swept_until is not None else float("-inf")

    def deadline(self, start: float, target: float) -> float:
        """`target` seconds after `start`: calendar time, or business time with a calendar."""
        if self.calendar is None:
            return start + target
        return calendar_from_json(self.calendar).deadline(start, target)

    @property
    def first_response_deadline(self) -> float | None:
        if self.opened_at is None or self.first_response_target is None:
            return None
        return self.deadline(self.opened_at, self.first_response_target)


# -- folding events ---------------------------------------------------------------------------


def marks_of(event: Mention | Reply | Redirection | Survey, rules: ConversationRules) -> list[Mark]:
    """The posts an event adds to the thread (a resolving reply adds two marks)."""
    at = event.occurred_ts
    if isinstance(event, Mention):
        return [(at, CUSTOMER)]
    if isinstance(event, Reply):
        post: Mark = (at, BOT) if event.automated else (at, HUMAN + rules.team_label(event.team))
        return [post, (at, RESOLVE)] if event.resolves else [post]
    return []


def apply_event(
    state: ConversationState,
    event: Mention | Reply | Redirection | Survey,
    policies: SlaPolicyCache,
    rules: ConversationRules = DEFAULT_RULES,
) -> Contributions:
    """Fold one event into the state (in place); the change of its contributions.

    Commutative across event orders: the sum of the changes over any order of the same
    events (with any settling that respects the allowed lateness) is the same.
    """
    marks = marks_of(event, rules)
    walk = state.walk
    reopening = isinstance(event, Mention) and (
        state.opened_at is None or event.occurred_ts < state.opened_at
    )
    in_order = not reopening and (
        walk.last is None or all(mark_key(mark) >= walk.last for mark in marks)
    )
    if not in_order:
        before = live(state)
        _apply_header(state, event, policies, rules)
        for mark in marks:
            thread_tail.insert(state, mark)
        if reopening and state.opened_at is not None:
            settled = state.settled
            # Only marks before the new opening were settled (they are older than any event
            # still admitted), and they walked nothing: the opening may move.
            assert settled.walked_nothing(), "an opening before the settled history"
            settled.opened_at = state.opened_at
            settled.inactivity = state.inactivity_seconds
        return difference(before, live(state, keep=True))
    before = current(state)
    _apply_header(state, event, policies, rules)
    completed: list[Item] = []
    for mark in marks:
        thread_tail.append(state, mark)
        _step(state, walk, mark, completed)
    after = state.current_values = _current(state)
    change = difference(before, after)
    swept = state.swept
    for item in completed:
        add_item(state, item, swept, change)
    return change


def _apply_header(
    state: ConversationState,
    event: Mention | Reply | Redirection | Survey,
    policies: SlaPolicyCache,
    rules: ConversationRules,
) -> None:
    """What an event changes besides the thread's posts."""
    at = event.occurred_ts
    if state.last_event_at is None or at > state.last_event_at:
        state.last_event_at = at
    if isinstance(event, Mention):
        state.customer_posts += 1
        if event.customer_value is not None and (
            state.customer_value is None or event.customer_value > state.customer_value
        ):
            state.customer_value = event.customer_value
        _sentiment(state, at, event.sentiment)
        fold_rating(state, at, event.rating, event.review_source)
        if (state.churn_risk_at is None or at < state.churn_risk_at) and states_leaving(
            event.inquiry_type, event.text, rules.churn_phrases
        ):
            state.churn_risk_at = at
        if state.opened_at is None or at < state.opened_at:
            # The earliest inbound post opens the conversation and fixes its labels and its
            # targets (the policy and rules in force when it is seen), whatever the order.
            state.brand, state.channel = event.brand, event.channel
            state.customer_id = event.author_id
            state.inquiry_type = event.inquiry_type
            state.priority = event.effective_priority
            state.opened_at = at
            for target in ("first_response", "next_response", "resolution"):
                setattr(
                    state,
                    f"{target}_target",
                    policies.target_seconds(target, state.brand, state.channel, state.priority),
                )
            state.calendar = policies.calendar_for(state.brand, state.channel, state.priority)
            state.negative_below = rules.sentiment.negative_below
            state.inactivity_seconds = rules.inactivity_seconds
            state.at_risk_margin = rules.at_risk_margin_seconds
    elif isinstance(event, Reply):
        state.brand_posts += 1
        if event.automated:
            state.automated_posts += 1
    elif isinstance(event, Redirection):
        earliest = state.redirections.get(event.to_channel)
        if earliest is None or at < earliest:
            state.redirections[event.to_channel] = at
    else:
        state.surveys.append((event.kind, int(event.score)))
        state.surveys.sort()
        del state.surveys[MAX_SURVEYS:]
    if state.brand is None:
        # Until the opening mention arrives, label with what the first event says.
        state.brand, state.channel = event.brand, event.channel


def _higher(value: float | None, other: float | None) -> float | None:
    if other is None:
        return value
    return other if value is None or other > value else value


def _sentiment(state: ConversationState, at: float, sentiment: float | None) -> None:
    """Keep the opening post's sentiment and the highest of the others (for recovery)."""
    opened_at = state.opened_at
    if opened_at is None or at < opened_at:
        if opened_at is not None:  # the old opening instant becomes later posts
            state.later_sentiment_max = _higher(
                state.later_sentiment_max, state.opening_instant_sentiment
            )
        state.opening_sentiment = state.opening_instant_sentiment = sentiment
    elif at == opened_at:
        opening = state.opening_sentiment
        if opening is not None and (sentiment is None or sentiment < opening):
            state.opening_sentiment = sentiment
        state.opening_instant_sentiment = _higher(state.opening_instant_sentiment, sentiment)
    else:
        state.later_sentiment_max = _higher(state.later_sentiment_max, sentiment)


def _step(state: ConversationState, walk: ThreadWalk, mark: Mark, out: list[Item]) -> None:
    """Step the walk; a stopped wait the clock may still breach goes to its pending list."""
    stepped: list[Item] = []
    walk.step(mark, stepped)
    for item in stepped:
        if item[0] != "stopped":
            out.append(item)
            continue
        _, start, stopped_at = item
        if state.next_response_target is None:
            continue
        deadline = state.deadline(start, state.next_response_target)
        if stopped_at > deadline:  # stopped before its deadline: never decides anything
            walk.pending.append([start, stopped_at, deadline])


def _replay(state: ConversationState) -> tuple[ThreadWalk, list[Item]]:
    """The settled walk stepped through the tail, and the items the tail completed."""
    walk = state.settled.clone()
    items: list[Item] = []
    for mark in thread_tail.marks(state):
        _step(state, walk, mark, items)
    return walk, items


def live(state: ConversationState, keep: bool = False) -> Contributions:
    """What the conversation contributes besides what its settled history completed.

    With nothing settled (a unit test, a short conversation) this is everything it
    contributes. `keep`: the replayed walk becomes the state's walk (and its current values
    are remembered).
    """
    if state.opened_at is None:
        return {}  # nothing counts before the opening post
    walk, items = _replay(state)
    swept = state.swept
    now_items: list[Item] = []
    values = view(state, walk.ending(swept, now_items), swept)
    for item in now_items:
        add_item(state, item, swept, values)
    if keep:
        state.walk = walk
        state.current_values = values
        values = dict(values)  # the remembered values stay as they are
    for item in items:
        add_item(state, item, swept, values)
    return values


def contributions(state: ConversationState) -> Contributions:
    """The conversation-level metric values this state stands for (its unsettled part)."""
    return live(state)


def settle(state: ConversationState, watermark: float | None) -> None:
    """Move the marks before `watermark` out of the tail: no admitted event precedes them.

    Changes no contribution: what they completed was counted when they were walked. Stopped
    waits past their deadline are dropped from the pending lists the same way.
    """
    if watermark is None:
        return
    if state.settled_until is None or watermark > state.settled_until:
        state.settled_until = watermark
        discarded: list[Item] = []
        settled = state.settled
        thread_tail.settle(state, watermark, lambda mark: _step(state, settled, mark, discarded))
    swept = state.swept
    for walk in (state.settled, state.walk):
        if walk.pending and any(swept >= deadline for _, _, deadline in walk.pending):
            walk.pending = [entry for entry in walk.pending if swept < entry[2]]
            state.current_values = None


def settled_before(state: ConversationState, at: float) -> bool:
    """An event at `at` would precede the conversation's settled history."""
    return state.settled_until is not None and at < state.settled_until


# -- the clock --------------------------------------------------------------------------------


def advance_clock(state: ConversationState, now: float) -> bool:
    """Record that the clock reached `now`; True if a deadline or trigger was crossed."""
    if state.swept_until is not None and now <= state.swept_until:
        return False
    due = next_check(state)
    state.swept_until = now
    state.current_values = None
    return due is not None and due <= now


def sweep(state: ConversationState, now: float) -> Contributions | None:
    """Move the state's clock to `now`; the change of its contributions if it had one."""
    if state.swept_until is not None and now <= state.swept_until:
        return None
    due = next_check(state)
    if due is None or due > now:
        state.swept_until = now
        state.current_values = None
        return None
    before = current(state)
    state.swept_until = now
    after = state.current_values = _current(state)
    return difference(before, after)


def current(state: ConversationState) -> Contributions:
    """The clock-dependent and positional values (not the completed items): O(1).

    Remembered on the state until it changes (read-only for the caller).
    """
    values = state.current_values
    if values is None:
        values = state.current_values = _current(state)
    return values


def _current(state: ConversationState) -> Contributions:
    swept = state.swept
    items: list[Item] = []
    out = view(state, state.walk.ending(swept, items), swept)
    for item in items:
        add_item(state, item, swept, out)
    return out


def next_check(state: ConversationState) -> float | None:
    """The next time at which the clock alone changes this conversation's metrics."""
    if state.opened_at is None:
        return None
    return _next_check(state, state.walk.ending(state.swept, []))


def _next_check(state: ConversationState, end: ThreadWalk) -> float | None:
    assert state.opened_at is not None
    swept = state.swept
    margin = state.at_risk_margin
    candidates: list[float] = []
    if end.open_now:
        deadline = waiting_deadline(state, end)
        if deadline is not None:
            candidates += [deadline - margin, deadline] if margin > 0 else [deadline]
        if end.awaiting_customer_since is not None:
            candidates.append(end.awaiting_customer_since + state.inactivity_seconds)
    # Every clock still without its reply has a deadline where its SLA outcome may be
    # decided, even a wait that a late resolution stopped after that deadline.
    # A clock that a resolution stopped before its deadline never decides anything.
    first_resolution = end.first_resolution_at
    fr_deadline = state.first_response_deadline
    if (
        end.first_response_at is None
        and fr_deadline is not None
        and (first_resolution is None or first_resolution > fr_deadline)
    ):
        candidates.append(fr_deadline)
    candidates += [deadline for _, _, deadline in end.pending]
    if not end.resolutions and state.resolution_target is not None:
        candidates.append(state.deadline(state.opened_at, state.resolution_target))
    future = [at for at in candidates if at > swept]
    return min(future) if future else None


def index_entries(state: ConversationState) -> tuple[float | None, str | None, float | None]:
    """The next clock check, the open backlog state (None when not open) and the first
    response time, together."""
    if state.opened_at is None:
        return None, None, None
    swept = state.swept
    end = state.walk.ending(swept, [])
    backlog = open_state(state, end, swept) if state.brand and state.channel else None
    return _next_check(state, end), backlog, end.first_response_at


# Series that describe the present (a backlog), not a history: they go when the state goes.
GAUGE_SERIES = frozenset({f.OPEN_CONVERSATIONS.name, f.OPEN_CUSTOMER_VALUE.name})


def retirement(state: ConversationState) -> Contributions:
    """What forgetting an idle conversation changes: its share of the backlog gauges only.

    Counters keep what the conversation contributed; a conversation still open when it is
    forgotten (abandoned) leaves the open backlog.
    """
    return {key: -amount for key, amount in current(state).items() if key.family in GAUGE_SERIES}


def event_increments(
    event: Mention | Reply | Redirection | Survey | ContactCount,
    rules: ConversationRules = DEFAULT_RULES,
) -> Contributions:
    """Counts every post and action once, labelled by the event's own brand and channel."""
    sentiment_rules = rules.sentiment
    labels = (event.brand, event.channel)
    at = event.occurred_ts
    if isinstance(event, Mention):
        sentiment = sentiment_rules.classify(event.sentiment)
        inquiry_type = event.inquiry_type or "unknown"
        counts: Contributions = {
            count(f.MENTIONS, labels, at): 1.0,
            count(f.MENTIONS_BY_SENTIMENT, (*labels, sentiment)): 1.0,
            count(f.MENTIONS_BY_INQUIRY_TYPE, (*labels, inquiry_type)): 1.0,
        }
        if inquiry_type == "complaint":
            counts[count(f.COMPLAINTS, labels, at)] = 1.0
        return counts
    if isinstance(event, Reply):
        kind = "automated" if event.automated else "human"
        counts = {count(f.REPLIES, (*labels, kind)): 1.0}
        if not event.automated:
            counts[count(f.TEAM_REPLIES, (*labels, rules.team_label(event.team)))] = 1.0
            if event.agent_id is not None and event.agent_id in rules.agents:
                counts[count(f.AGENT_REPLIES, (*labels, event.agent_id))] = 1.0
        return counts
    if isinstance(event, Redirection):
        return {count(f.REDIRECTIONS, (*labels, event.to_channel)): 1.0}
    if isinstance(event, ContactCount):
        return {count(f.OTHER_CHANNEL_CONTACTS, labels, at): float(event.count)}
    return {count(f.SURVEYS, (*labels, event.kind)): 1.0}


def difference(before: Contributions, after: Contributions) -> Contributions:
    """after - before, without the zero entries."""
    delta = dict(after)
    for key, value in before.items():
        delta[key] = delta.get(key, 0.0) - value
    return {key: value for key, value in delta.items() if value != 0.0}
