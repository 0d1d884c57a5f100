"""The whole-timeline model of a conversation: the reference the summary is checked against.

This is the implementation the processor ran until the thread summary
(`processor/domain/thread.py`): every event re-walks the whole timeline. It is kept, uncapped,
as an independent reference: `tests/unit/domain/test_summary.py` folds random conversations
through the summary, in random orders and with random settling, and compares the sum of its
changes with what this model says of the final timeline.

Per-conversation state and the metric contributions it implies.

The state is a timeline: the conversation's posts (customer, human brand, bot), the
resolving replies, redirections and surveys, each with its event time, plus the time up to
which the clock has been checked (`swept_until`). Every business metric of a conversation
is a pure function of that state (`contributions`). The agent applies an event (or advances
the clock), computes the contributions before and after, and adds the difference to the
aggregate tables. So the aggregates depend only on the final states, not on the order in
which events arrived across the four topics, and a replay gives the numbers that live
processing gives.

Event-level counts (every post, every redirection) do not depend on the conversation
and are returned by `event_increments`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processor.domain.business_hours import calendar_from_json
from processor.domain.contributions import (
    AT_RISK,
    AWAITING_CUSTOMER,
    AWAITING_FIRST_RESPONSE,
    AWAITING_NEXT_RESPONSE,
    BREACHED,
)
from processor.domain.conversation import (  # the event counts and the rules are not compared
    DEFAULT_RULES,
    ConversationRules,
    difference,
    event_increments,
)
from processor.domain.events import Mention, Redirection, Reply, Survey
from processor.domain.quality import csat_satisfied, nps_category, recovered
from processor.domain.sla import SlaPolicyCache
from processor.metrics import families as f
from processor.metrics.series import Contributions, count, observe

# Long conversations must not grow the state without bound: the earliest posts are kept
# (the metrics are about the start of a conversation: first response, first resolution).
MAX_POSTS = 1_000_000
MAX_SURVEYS = 32

CUSTOMER, HUMAN, BOT = "c", "h", "b"


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
    next_response_target: float | None = None
    resolution_target: float | None = None
    inactivity_seconds: float = 0.0
    at_risk_margin: float = 0.0
    negative_below: float | None = None
    calendar: dict[str, Any] | None = None  # business hours the clocks follow (None: 24/7)
    customer_value: float | None = None  # the largest customer_value of its mentions
    # (time, team label) of the human replies, to credit first responses and resolutions
    reply_teams: list[tuple[float, str]] = field(default_factory=list)
    posts: list[tuple[float, str]] = field(default_factory=list)
    resolves: list[float] = field(default_factory=list)
    redirections: list[tuple[float, str]] = field(default_factory=list)
    surveys: list[tuple[str, int]] = field(default_factory=list)
    mention_sentiments: list[tuple[float, float | None]] = field(default_factory=list)
    swept_until: float | None = None
    last_event_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        # Shallow copy with lists copied: dataclasses.asdict deep-copies every value and
        # was the most expensive call per event.
        document = dict(self.__dict__)
        for name in ("posts", "redirections", "surveys", "mention_sentiments", "reply_teams"):
            document[name] = [list(pair) for pair in getattr(self, name)]
        document["resolves"] = list(self.resolves)
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ConversationState:
        state = cls(**document)
        state.posts = [(at, kind) for at, kind in state.posts]
        state.redirections = [(at, to) for at, to in state.redirections]
        state.surveys = [(kind, score) for kind, score in state.surveys]
        state.mention_sentiments = [(at, value) for at, value in state.mention_sentiments]
        state.reply_teams = [(at, team) for at, team in state.reply_teams]
        # A stored document is shared with the table until its batch is written: the state
        # changes only its own lists.
        state.resolves = list(state.resolves)
        return state

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


def _insert(items: list[Any], item: Any, cap: int) -> None:
    items.append(item)
    items.sort()
    del items[cap:]


def apply_event(
    state: ConversationState,
    event: Mention | Reply | Redirection | Survey,
    policies: SlaPolicyCache,
    rules: ConversationRules = DEFAULT_RULES,
) -> None:
    """Fold one event into the state (in place). Commutative across event orders."""
    at = event.occurred_ts
    if state.last_event_at is None or at > state.last_event_at:
        state.last_event_at = at
    if isinstance(event, Mention):
        state.customer_posts += 1
        _insert(state.posts, (at, CUSTOMER), MAX_POSTS)
        # At one instant the opening post is the one with the lowest sentiment, None lowest
        # (the summary's rule; a plain sort of (time, None) with (time, 0.3) would raise).
        state.mention_sentiments.append((at, event.sentiment))
        state.mention_sentiments.sort(
            key=lambda pair: (pair[0], pair[1] is not None, pair[1] or 0.0)
        )
        if event.customer_value is not None and (
            state.customer_value is None or event.customer_value > state.customer_value
        ):
            state.customer_value = event.customer_value
        if state.opened_at is None or at < state.opened_at:
            # The earliest inbound post opens the conversation and fixes its labels and its
            # targets (the policy and rules in force when it is seen), whatever the order.
            state.brand, state.channel = event.brand, event.channel
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
        _insert(state.posts, (at, BOT if event.automated else HUMAN), MAX_POSTS)
        if not event.automated:
            _insert(state.reply_teams, (at, rules.team_label(event.team)), MAX_POSTS)
        if event.resolves:
            _insert(state.resolves, at, MAX_POSTS)
    elif isinstance(event, Redirection):
        _insert(state.redirections, (at, event.to_channel), MAX_POSTS)
    else:
        _insert(state.surveys, (event.kind, event.score), MAX_SURVEYS)
    if state.brand is None:
        # Until the opening mention arrives, label with what the first event says.
        state.brand, state.channel = event.brand, event.channel


@dataclass
class Timeline:
    """What the posts of a conversation say, walked once in event time."""

    first_response_at: float | None = None
    # (start of the customer's wait after a response, the human reply that ended it or None)
    next_responses: list[tuple[float, float | None]] = field(default_factory=list)
    # (resolution time, "explicit" | "inactivity")
    resolutions: list[tuple[float, str]] = field(default_factory=list)
    reopens: int = 0
    open_now: bool = True
    waiting_since: float | None = None  # the customer waits for a next response since
    awaiting_customer_since: float | None = None  # last human reply, customer silent since
    customer_posts_to_resolution: int = 0
    brand_posts_to_resolution: int = 0
    human_replies_to_resolution: int = 0
    customer_posts_answered: int = 0


_ORDER = {CUSTOMER: 0, HUMAN: 1, BOT: 1, "resolve": 2}


class _Walk:
    """The running totals of `walk`; a resolution freezes the counts to it."""

    def __init__(self) -> None:
        self.timeline = Timeline()
        self.customer = self.brand = self.humans = 0

    def resolve(self, at: float, how: str) -> None:
        timeline = self.timeline
        timeline.resolutions.append((at, how))
        timeline.open_now = False
        if len(timeline.resolutions) == 1:
            timeline.customer_posts_to_resolution = self.customer
            timeline.brand_posts_to_resolution = self.brand
            timeline.human_replies_to_resolution = self.humans


def walk(state: ConversationState) -> Timeline:
    """Follow the conversation from its opening post; inactivity up to `swept_until`."""
    run = _Walk()
    timeline = run.timeline
    opened_at = state.opened_at
    if opened_at is None:
        return timeline
    marks = [(at, kind) for at, kind in state.posts if at >= opened_at]
    marks += [(at, "resolve") for at in state.resolves if at >= opened_at]
    marks.sort(key=lambda mark: (mark[0], _ORDER[mark[1]]))
    inactivity = state.inactivity_seconds
    last_human: float | None = None  # the last post of the open episode, if a human reply
    waiting_since: float | None = None
    unanswered = 0
    for at, kind in marks:
        if kind == CUSTOMER:
            if last_human is not None and inactivity > 0 and at - last_human >= inactivity:
                # The customer stayed silent long enough: resolved at the last reply.
                run.resolve(last_human, "inactivity")
            last_human = None
            unanswered += 1
            if not timeline.resolutions:
                run.customer += 1
            if not timeline.open_now:
                timeline.reopens += 1
                timeline.open_now = True
            if timeline.first_response_at is not None and waiting_since is None:
                waiting_since = at
        elif kind == HUMAN:
            timeline.customer_posts_answered += unanswered
            unanswered = 0
            if not timeline.resolutions:
                run.brand += 1
                run.humans += 1
            if timeline.first_response_at is None:
                timeline.first_response_at = at
            elif waiting_since is not None:
                timeline.next_responses.append((waiting_since, at))
                waiting_since = None
            last_human = at if timeline.open_now else None
        elif kind == BOT:
            if not timeline.resolutions:
                run.brand += 1
        elif timeline.open_now:  # an explicit resolution
            run.resolve(at, "explicit")
            last_human = None
            if waiting_since is not None:
                timeline.next_responses.append((waiting_since, None))
                waiting_since = None
    horizon = state.swept_until if state.swept_until is not None else float("-inf")
    if last_human is not None and inactivity > 0:
        if horizon - last_human >= inactivity:
            run.resolve(last_human, "inactivity")
        else:
            timeline.awaiting_customer_since = last_human
    if waiting_since is not None:
        timeline.next_responses.append((waiting_since, None))
        timeline.waiting_since = waiting_since
    return timeline


def advance_clock(state: ConversationState, now: float) -> bool:
    """Record that the clock reached `now`; True if a deadline or trigger was crossed."""
    if state.swept_until is not None and now <= state.swept_until:
        return False
    due = next_check(state)
    state.swept_until = now
    return due is not None and due <= now


def next_check(state: ConversationState, timeline: Timeline | None = None) -> float | None:
    """The next time at which the clock alone changes this conversation's metrics."""
    if state.opened_at is None:
        return None
    timeline = timeline or walk(state)
    swept = state.swept_until if state.swept_until is not None else float("-inf")
    margin = state.at_risk_margin
    candidates: list[float] = []
    if timeline.open_now:
        deadline = _waiting_deadline(state, timeline)
        if deadline is not None:
            candidates += [deadline - margin, deadline] if margin > 0 else [deadline]
        if timeline.awaiting_customer_since is not None:
            candidates.append(timeline.awaiting_customer_since + state.inactivity_seconds)
    # Every clock still without its reply has a deadline where its SLA outcome may be
    # decided, even a wait that a late resolution stopped after that deadline.
    # A clock that a resolution stopped before its deadline never decides anything.
    first_resolution = timeline.resolutions[0][0] if timeline.resolutions else None
    fr_deadline = state.first_response_deadline
    if (
        timeline.first_response_at is None
        and fr_deadline is not None
        and (first_resolution is None or first_resolution > fr_deadline)
    ):
        candidates.append(fr_deadline)
    if state.next_response_target is not None:
        for start, replied_at in timeline.next_responses:
            if replied_at is not None:
                continue
            deadline = state.deadline(start, state.next_response_target)
            stopped = next((at for at, _ in timeline.resolutions if at >= start), None)
            if stopped is None or stopped > deadline:
                candidates.append(deadline)
    if not timeline.resolutions and state.resolution_target is not None:
        candidates.append(state.deadline(state.opened_at, state.resolution_target))
    future = [at for at in candidates if at > swept]
    return min(future) if future else None


def _waiting_deadline(state: ConversationState, timeline: Timeline) -> float | None:
    """Deadline of the reply the customer is waiting for, if any."""
    if timeline.first_response_at is None:
        return state.first_response_deadline
    if timeline.waiting_since is not None and state.next_response_target is not None:
        return state.deadline(timeline.waiting_since, state.next_response_target)
    return None


def _team_at(state: ConversationState, at: float) -> str:
    """The team of the human reply at `at` (or the last one before it), else unassigned."""
    team = "unassigned"
    for reply_at, reply_team in state.reply_teams:
        if reply_at > at:
            break
        team = reply_team
    return team


def _sla(
    out: Contributions,
    family: f.Family,
    labels: tuple[str, ...],
    deadline: float,
    done_at: float | None,
    swept: float,
    stopped_at: float | None = None,
) -> None:
    """Met/breached for one clock: done in time, done late, or silent past the deadline."""
    if done_at is not None:
        outcome, at = ("met", done_at) if done_at <= deadline else ("breached", deadline)
    elif swept >= deadline and (stopped_at is None or stopped_at > deadline):
        outcome, at = "breached", deadline
    else:
        return
    key = count(family, (*labels, outcome), at)
    out[key] = out.get(key, 0.0) + 1.0


def contributions(state: ConversationState, timeline: Timeline | None = None) -> Contributions:
    """The conversation-level metric values this state stands for."""
    out: Contributions = {}
    if state.opened_at is None or state.brand is None or state.channel is None:
        return out
    opened_at = state.opened_at
    labels = (state.brand, state.channel)
    sla_labels = (*labels, state.priority)
    swept = state.swept_until if state.swept_until is not None else float("-inf")
    timeline = timeline or walk(state)
    first_resolution = timeline.resolutions[0][0] if timeline.resolutions else None
    out[count(f.CONVERSATIONS_OPENED, labels)] = 1.0

    # First response: the first human reply after the opening post.
    deadline = state.first_response_deadline
    if timeline.first_response_at is not None:
        observe(out, f.FIRST_RESPONSE_SECONDS, labels, timeline.first_response_at - opened_at)
    if deadline is not None:
        _sla(out, f.FIRST_RESPONSE_SLA, sla_labels, deadline, timeline.first_response_at,
             swept, stopped_at=first_resolution)  # fmt: skip

    if timeline.first_response_at is not None:
        team = _team_at(state, timeline.first_response_at)
        observe(
            out,
            f.TEAM_FIRST_RESPONSE_SECONDS,
            (*labels, team),
            timeline.first_response_at - opened_at,
        )

    # Next responses: each wait of the customer after a response, to the next human reply.
    for start, replied_at in timeline.next_responses:
        if replied_at is not None:
            observe(out, f.NEXT_RESPONSE_SECONDS, labels, replied_at - start)
        if state.next_response_target is not None:
            stopped = next((at for at, _ in timeline.resolutions if at >= start), None)
            _sla(out, f.NEXT_RESPONSE_SLA, sla_labels,
                 state.deadline(start, state.next_response_target),
                 replied_at, swept, stopped_at=stopped)  # fmt: skip
    if timeline.customer_posts_answered:
        out[count(f.MENTIONS_ANSWERED, labels)] = float(timeline.customer_posts_answered)

    # Resolutions: explicit or by inactivity; the first one for time, SLA and effort.
    redirected = any(at <= (first_resolution or float("inf")) for at, _ in state.redirections)
    for resolved_at, how in timeline.resolutions:
        key = count(f.RESOLUTIONS, (*labels, how), resolved_at)
        out[key] = out.get(key, 0.0) + 1.0
    if timeline.reopens:
        out[count(f.REOPENS, labels)] = float(timeline.reopens)
    if first_resolution is not None:
        flag = "true" if redirected else "false"
        observe(out, f.RESOLUTION_SECONDS, (*labels, flag), first_resolution - opened_at)
        for side, posts in (("customer", timeline.customer_posts_to_resolution),
                            ("brand", timeline.brand_posts_to_resolution)):  # fmt: skip
            observe(out, f.POSTS_TO_RESOLUTION, (*labels, side), float(posts))
        resolver = _team_at(state, first_resolution)
        observe(out, f.TEAM_RESOLUTION_SECONDS, (*labels, resolver), first_resolution - opened_at)
        channels = 1 + len({to for at, to in state.redirections if at <= first_resolution})
        observe(out, f.CUSTOMER_EFFORT_CHANNELS, labels, float(channels))
        if timeline.human_replies_to_resolution == 1 and not redirected and not timeline.reopens:
            out[count(f.FIRST_CONTACT_RESOLUTIONS, labels)] = 1.0
    if state.resolution_target is not None:
        resolution_deadline = state.deadline(opened_at, state.resolution_target)
        pending_inference = (
            timeline.awaiting_customer_since is not None
            and timeline.awaiting_customer_since <= resolution_deadline
        )
        if first_resolution is not None or not pending_inference:
            _sla(out, f.RESOLUTION_SLA, sla_labels, resolution_deadline, first_resolution,
                 swept)  # fmt: skip

    # Backlog: where the open conversation stands now.
    if timeline.open_now:
        waiting = _waiting_deadline(state, timeline)
        if waiting is not None:
            if swept >= waiting:
                open_state = BREACHED
            elif state.at_risk_margin > 0 and swept >= waiting - state.at_risk_margin:
                open_state = AT_RISK
            elif timeline.first_response_at is None:
                open_state = AWAITING_FIRST_RESPONSE
            else:
                open_state = AWAITING_NEXT_RESPONSE
        elif timeline.first_response_at is None:
            open_state = AWAITING_FIRST_RESPONSE
        else:
            open_state = AWAITING_CUSTOMER
        out[count(f.OPEN_CONVERSATIONS, (*labels, open_state))] = 1.0
        if state.customer_value:
            out[count(f.OPEN_CUSTOMER_VALUE, (*labels, open_state))] = state.customer_value
    if state.customer_value:
        breached = sum(
            amount for key, amount in out.items()
            if key.family == f.FIRST_RESPONSE_SLA.name and key.labels[-1] == "breached"
        )  # fmt: skip
        if breached:
            out[count(f.BREACHED_CUSTOMER_VALUE, labels)] = state.customer_value

    # Quality: recovery of a negative start; CSAT and NPS by redirection.
    if state.mention_sentiments and state.negative_below is not None:
        _, opening_sentiment = state.mention_sentiments[0]
        later = (value for at, value in state.mention_sentiments[1:] if at > opened_at)
        outcome_of_negative = recovered(opening_sentiment, state.negative_below, later,
                                        state.surveys)  # fmt: skip
        if outcome_of_negative is not None:
            out[count(f.NEGATIVE_CONVERSATIONS, labels)] = 1.0
            if outcome_of_negative:
                out[count(f.RECOVERED_CONVERSATIONS, labels)] = 1.0
    any_redirection = "true" if state.redirections else "false"
    for kind, score in state.surveys:
        if kind == "csat":
            for family, amount in ((f.CSAT_RESPONSES, 1.0), (f.CSAT_SCORE, float(score)),
                                   (f.CSAT_SATISFIED if csat_satisfied(score)
                                    else f.CSAT_FOLLOWUP_NEEDED, 1.0)):  # fmt: skip
                csat_key = count(family, (*labels, any_redirection))
                out[csat_key] = out.get(csat_key, 0.0) + amount
        else:
            nps_key = count(f.NPS_RESPONSES, (*labels, nps_category(score)))
            out[nps_key] = out.get(nps_key, 0.0) + 1.0
    return out


__all__ = ["difference", "event_increments"]
