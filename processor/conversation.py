"""Per-conversation state and the metric contributions it implies.

The business metrics of a conversation are a pure function of its state
(`contributions`). The agent applies an event, computes the contributions before and
after, and adds the difference to the aggregate tables. So the aggregates depend only on
the final states, not on the order in which events of a conversation arrived across the
four topics, and replay gives the numbers that live processing gives.

Event-level counts (every post, every redirection) do not depend on the conversation
and are returned by `event_increments`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processor.events import Mention, Redirection, Reply, Survey
from processor.metrics import FIRST_RESPONSE_BUCKETS, Contributions, bucket_index
from processor.quality import SentimentRules, csat_satisfied, nps_category, recovered
from processor.sla import SlaPolicyCache

DEFAULT_SENTIMENT_RULES = SentimentRules()

# Long conversations must not grow the state without bound: only the earliest human
# reply times matter (the first response is the earliest one after the opening post).
_MAX_REPLY_TIMES = 32

AWAITING_FIRST_RESPONSE = "awaiting_first_response"
BREACHED = "breached"
OPEN_STATES = (AWAITING_FIRST_RESPONSE, BREACHED)


@dataclass
class ConversationState:
    """What the processor knows of one conversation; stored as JSON in the changelog."""

    conversation_id: str
    partition: int
    brand: str | None = None
    channel: str | None = None
    priority: str = "normal"
    opened_at: float | None = None
    customer_posts: int = 0
    brand_posts: int = 0
    automated_posts: int = 0
    first_response_target: float | None = None
    resolution_target: float | None = None
    human_reply_times: list[float] = field(default_factory=list)
    silence_breached: bool = False
    resolved_at: float | None = None
    last_event_at: float | None = None
    # (time, sentiment) of the customer posts, earliest first (capped like reply times).
    mention_sentiments: list[tuple[float, float | None]] = field(default_factory=list)
    negative_below: float | None = None  # the sentiment threshold when the conversation opened
    redirected_to: list[str] = field(default_factory=list)
    surveys: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        # Shallow copy of the fields (lists copied): dataclasses.asdict deep-copies every
        # value and was the most expensive call per event.
        document = dict(self.__dict__)
        document["human_reply_times"] = list(self.human_reply_times)
        document["redirected_to"] = list(self.redirected_to)
        document["surveys"] = [list(survey) for survey in self.surveys]
        document["mention_sentiments"] = [list(pair) for pair in self.mention_sentiments]
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ConversationState:
        state = cls(**document)
        state.surveys = [(kind, score) for kind, score in state.surveys]
        state.mention_sentiments = [(at, value) for at, value in state.mention_sentiments]
        return state

    @property
    def first_response_deadline(self) -> float | None:
        if self.opened_at is None or self.first_response_target is None:
            return None
        return self.opened_at + self.first_response_target

    @property
    def first_response_at(self) -> float | None:
        """Earliest human brand reply at or after the opening post."""
        if self.opened_at is None:
            return None
        opened_at = self.opened_at
        return next((t for t in self.human_reply_times if t >= opened_at), None)

    @property
    def awaiting_first_response(self) -> bool:
        return (
            self.opened_at is not None
            and self.first_response_at is None
            and self.resolved_at is None
        )


def apply_event(
    state: ConversationState,
    event: Mention | Reply | Redirection | Survey,
    policies: SlaPolicyCache,
    sentiment_rules: SentimentRules = DEFAULT_SENTIMENT_RULES,
) -> None:
    """Fold one event into the state (in place). Commutative across event orders."""
    at = event.occurred_ts
    if state.last_event_at is None or at > state.last_event_at:
        state.last_event_at = at
    if isinstance(event, Mention):
        state.customer_posts += 1
        sentiments = state.mention_sentiments
        sentiments.append((at, event.sentiment))
        sentiments.sort(key=lambda pair: pair[0])
        del sentiments[_MAX_REPLY_TIMES:]
        if state.opened_at is None or at < state.opened_at:
            # The earliest inbound post opens the conversation and fixes its labels and its
            # SLA targets (the policy in force when it is seen), whatever the arrival order.
            state.brand, state.channel = event.brand, event.channel
            state.priority = event.effective_priority
            state.opened_at = at
            state.first_response_target = policies.target_seconds(
                "first_response", state.brand, state.channel, state.priority
            )
            state.resolution_target = policies.target_seconds(
                "resolution", state.brand, state.channel, state.priority
            )
            state.negative_below = sentiment_rules.negative_below
    elif isinstance(event, Reply):
        state.brand_posts += 1
        if event.automated:
            state.automated_posts += 1
        else:
            times = state.human_reply_times
            times.append(at)
            times.sort()
            del times[_MAX_REPLY_TIMES:]
        if event.resolves and (state.resolved_at is None or at < state.resolved_at):
            state.resolved_at = at
    elif isinstance(event, Redirection):
        state.redirected_to.append(event.to_channel)
    else:
        state.surveys.append((event.kind, event.score))
    if state.brand is None:
        # Until the opening mention arrives, label with what the first event says.
        state.brand, state.channel = event.brand, event.channel


def breach_if_due(state: ConversationState, now: float) -> bool:
    """Declare a breach by silence when the deadline passed with no reply; True if changed."""
    deadline = state.first_response_deadline
    if state.silence_breached or deadline is None or deadline > now:
        return False
    if not state.awaiting_first_response:
        return False
    state.silence_breached = True
    return True


def contributions(state: ConversationState) -> Contributions:
    """The conversation-level metric values this state stands for."""
    out: Contributions = {}
    if state.opened_at is None or state.brand is None or state.channel is None:
        return out
    labels = (state.brand, state.channel)
    out[("conversations_opened_total", labels, None)] = 1.0
    deadline = state.first_response_deadline
    first_response_at = state.first_response_at
    outcome: str | None = None
    outcome_at: float | None = None
    if first_response_at is not None:
        waited = first_response_at - state.opened_at
        index = bucket_index(FIRST_RESPONSE_BUCKETS, waited)
        out[("first_response_seconds_bucket", (*labels, str(index)), None)] = 1.0
        out[("first_response_seconds_sum", labels, None)] = waited
        out[("first_response_seconds_count", labels, None)] = 1.0
        if deadline is not None:
            met = first_response_at <= deadline and not state.silence_breached
            outcome, outcome_at = ("met", first_response_at) if met else ("breached", deadline)
    elif state.silence_breached and deadline is not None:
        outcome, outcome_at = "breached", deadline
    if outcome is not None:
        key = ("first_response_sla_total", (*labels, state.priority, outcome), outcome_at)
        out[key] = 1.0
    if state.awaiting_first_response:
        open_state = BREACHED if state.silence_breached else AWAITING_FIRST_RESPONSE
        out[("open_conversations", (*labels, open_state), None)] = 1.0
    if state.resolved_at is not None:
        out[("resolutions_total", labels, state.resolved_at)] = 1.0
    if state.mention_sentiments and state.negative_below is not None:
        _, opening_sentiment = state.mention_sentiments[0]
        later = (value for at, value in state.mention_sentiments[1:] if at > state.opened_at)
        outcome_of_negative = recovered(
            opening_sentiment, state.negative_below, later, state.surveys
        )
        if outcome_of_negative is not None:
            out[("negative_conversations_total", labels, None)] = 1.0
            if outcome_of_negative:
                out[("recovered_conversations_total", labels, None)] = 1.0
    return out


# Series that describe the present (a backlog), not a history: they go when the state goes.
GAUGE_SERIES = frozenset({"open_conversations"})


def retirement(state: ConversationState) -> Contributions:
    """What forgetting an idle conversation changes: its share of the backlog gauges only.

    Counters keep what the conversation contributed; a conversation still open when it is
    forgotten (abandoned) leaves the open backlog.
    """
    return {key: -amount for key, amount in contributions(state).items() if key[0] in GAUGE_SERIES}


def event_increments(
    event: Mention | Reply | Redirection | Survey,
    sentiment_rules: SentimentRules = DEFAULT_SENTIMENT_RULES,
) -> Contributions:
    """Counts every post and action once, labelled by the event's own brand and channel."""
    labels = (event.brand, event.channel)
    at = event.occurred_ts
    if isinstance(event, Mention):
        sentiment = sentiment_rules.classify(event.sentiment)
        inquiry_type = event.inquiry_type or "unknown"
        counts: Contributions = {
            ("mentions_total", labels, at): 1.0,
            ("mentions_by_sentiment_total", (*labels, sentiment), None): 1.0,
            ("mentions_by_inquiry_type_total", (*labels, inquiry_type), None): 1.0,
        }
        if inquiry_type == "complaint":
            counts[("complaints_total", labels, at)] = 1.0
        return counts
    if isinstance(event, Reply):
        kind = "automated" if event.automated else "human"
        return {("replies_total", (*labels, kind), None): 1.0}
    if isinstance(event, Redirection):
        return {("redirections_total", (*labels, event.to_channel), None): 1.0}
    out: Contributions = {("surveys_total", (*labels, event.kind), None): 1.0}
    if event.kind == "csat":
        out[("csat_responses_total", labels, None)] = 1.0
        out[("csat_score_total", labels, None)] = float(event.score)
        if csat_satisfied(event.score):
            out[("csat_satisfied_total", labels, None)] = 1.0
        else:
            out[("csat_followup_needed_total", labels, None)] = 1.0
    else:
        out[("nps_responses_total", (*labels, nps_category(event.score)), None)] = 1.0
    return out


def difference(before: Contributions, after: Contributions) -> Contributions:
    """after - before, without the zero entries."""
    delta = dict(after)
    for key, value in before.items():
        delta[key] = delta.get(key, 0.0) - value
    return {key: value for key, value in delta.items() if value != 0.0}
