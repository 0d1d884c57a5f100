"""Deterministic synthetic social customer-care traffic as v1 event dicts.

Why: demos, load tests, dashboards and backfill tests need realistic traffic that is repeatable
(same seed, same events) and contains no real customer data. The generator simulates
conversations between customers and brand support accounts: Poisson arrivals per brand with
crisis bursts, bot and human replies, slow and missing answers, follow-ups, redirections to
private channels, resolutions and satisfaction surveys.

Determinism does not depend on how the time range is cut into `advance()` calls: random draws
happen only when a whole simulated minute of arrivals is generated, and each new conversation's
complete future is planned at once and parked in a heap until its events fall due.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import accumulate

from processor.ingest.synthetic_csat import csat_answer, expected_csat

__all__ = [
    "DEFAULT_PROFILE",
    "SyntheticTraffic",
    "TrafficProfile",
    "format_event_time",
    "to_json_lines",
]

Event = dict[str, object]


def _cum(weights: Sequence[float]) -> tuple[float, ...]:
    """Cumulative weights, precomputed so random.choices need not rebuild them per draw."""
    return tuple(accumulate(float(w) for w in weights))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE_MS = 60_000
_SECOND_MS = 1_000
_CUSTOMER_POOL = 2_000_000  # large enough that other repeat customers are rare
# A quarter of the conversations come from a thousand regulars: returning customers and
# repeat contacts (drawn from the same number as the others, so no other draw moves).
_REGULAR_SHARE = 0.25
_REGULARS = 1_000
# A few conversations are online reviews: the opening post carries stars and a site.
_REVIEW_SHARE = 0.08
_REVIEW_SOURCES = ("google", "trustpilot", "yelp", "app_store", "google_play", "brand_site")
_MAX_FOLLOW_UPS = 4
_BURST_MIN_MINUTES = 5
_BURST_MAX_MINUTES = 20

_INQUIRY_TYPES = ("complaint", "question", "feedback", "recommendation", "praise", "other")
_INQUIRY_CUM = _cum((0.34, 0.36, 0.11, 0.05, 0.09, 0.05))
_CRISIS_INQUIRY_CUM = _cum((0.75, 0.17, 0.03, 0.01, 0.01, 0.03))  # a crisis is mostly complaints
_SENTIMENT_RANGE = {
    "complaint": (-1.0, -0.2),
    "question": (-0.3, 0.3),
    "feedback": (-0.5, 0.5),
    "recommendation": (-0.1, 0.6),
    "praise": (0.4, 1.0),
    "other": (-0.2, 0.2),
}

_PRIORITIES = ("normal", "low", "high", "urgent")
_PRIORITY_CUM = _cum((0.76, 0.12, 0.09, 0.03))
_COMPLAINT_PRIORITY_CUM = _cum((0.60, 0.03, 0.26, 0.11))
# Urgent posts are picked up faster; low-priority ones wait longer.
_PRIORITY_DELAY_FACTOR = {"low": 1.6, "normal": 1.0, "high": 0.6, "urgent": 0.35}

# Agents per brand: agent numbers per team ("agent-<brand>-<k>").
_TEAM_AGENTS = {"tier1": (1, 2, 3), "social": (4, 5), "tier2": (6, 7)}
_TEAMS = ("tier1", "social", "tier2")
_TEAM_CUM_BY_PRIORITY = {
    "low": _cum((0.4, 0.6, 0.0)),
    "normal": _cum((0.6, 0.3, 0.1)),
    "high": _cum((0.25, 0.15, 0.6)),
    "urgent": _cum((0.1, 0.1, 0.8)),
}

_TO_CHANNELS = ("dm", "email", "chat", "voice")
_TO_CHANNEL_CUM = _cum((0.7, 0.12, 0.12, 0.06))
_REDIRECT_REASONS = (
    "needs account details",
    "personal data",
    "order lookup",
    "complex issue",
    "billing question",
    "escalation",
)

_TOPICS = (
    "my order",
    "the app",
    "my bill",
    "my account",
    "the delivery",
    "my refund",
    "the website login",
    "my subscription",
)
_CRISIS_TOPICS = (
    "outage",
    "billing error",
    "delayed deliveries",
    "app crash after the update",
    "login failures",
    "payment failures",
)

_MENTION_TEXTS = {
    "complaint": (
        "@{brand} {topic} is still broken and nobody helps. Really disappointed.",
        "@{brand} third time asking about {topic}. This is ridiculous.",
        "@{brand} what is going on with {topic}?? Nothing works.",
        "@{brand} {topic} has been a mess for days. Fix it or I'm switching to a rival.",
    ),
    "question": (
        "@{brand} quick question about {topic}, how do I change it?",
        "@{brand} hi, can you help me with {topic}?",
        "@{brand} is there a way to check {topic} online?",
    ),
    "feedback": (
        "@{brand} {topic} works, but the new layout is confusing.",
        "@{brand} some feedback on {topic}: it takes too many steps.",
    ),
    "recommendation": (
        "@{brand} you should let us manage {topic} from the app.",
        "@{brand} suggestion: send a notification when {topic} changes.",
    ),
    "praise": (
        "@{brand} thanks for sorting out {topic} so quickly, great service!",
        "@{brand} love how easy {topic} is now, well done.",
    ),
    "other": (
        "@{brand} hello? anyone there?",
        "@{brand} is this the right account for {topic}?",
    ),
}
_FOLLOW_UP_TEXTS = (
    "Still waiting on {topic}...",
    "Thanks, I just sent you a DM.",
    "That did not work, {topic} is still the same.",
    "Any update on {topic}?",
    "Ok, trying that now.",
    "I already did that twice.",
)
_BOT_TEXTS = (
    "Thanks for your message! An agent will reply shortly.",
    "Hi! We got your message and will get back to you soon.",
)
_FIRST_REPLY_TEXTS = (
    "Hi, sorry for the trouble with {topic}. Let's take a look together.",
    "Thanks for reaching out! Could you tell us a bit more about {topic}?",
    "Hi there, happy to help with {topic}. What happens exactly?",
)
_CRISIS_REPLY_TEXTS = (
    "We know about the {topic} and our team is working on it. Sorry for the disruption.",
    "Sorry! The {topic} is being fixed right now, we will update you here.",
)
_REDIRECT_REPLY_TEXTS = (
    "We'd like to look into {topic}. Please send us a DM with your account email.",
    "To check {topic} we need a few private details, let's continue in DM.",
)
_NEXT_REPLY_TEXTS = (
    "Thanks for the details, we are checking {topic} now.",
    "Got it. Please try signing out and in again and let us know.",
    "Thanks for your patience, we have passed {topic} to our specialists.",
)
_RESOLVE_TEXTS = (
    "Glad we could fix {topic}! Anything else we can do?",
    "All sorted on our side, {topic} should work now.",
    "Done: {topic} is fixed. Thanks for bearing with us!",
)

_NPS_SCORES = tuple(range(11))
_NPS_GOOD = _cum((1, 1, 1, 1, 1, 2, 3, 6, 12, 22, 30))
_NPS_BAD = _cum((7, 6, 6, 6, 6, 7, 7, 6, 5, 4, 3))


@dataclass(frozen=True)
class TrafficProfile:
    """Shape of the simulated traffic; defaults resemble a busy multi-brand care team.

    Shares are probabilities in [0, 1]. `conversations_per_minute` is the long-run mean rate of
    new conversations over all brands, bursts included: calm minutes run a little below it and a
    burst multiplies one brand's rate by `burst_multiplier` for 5-20 minutes.
    """

    brands: tuple[str, ...] = ("AcmeSupport", "NimbusHelp", "ZephyrCare")
    channels: tuple[str, ...] = ("twitter", "facebook", "instagram")
    conversations_per_minute: float = 30.0  # long-run mean over all brands, bursts included
    burst_probability: float = 0.02
    burst_multiplier: float = 8.0
    unanswered_share: float = 0.12
    bot_first_share: float = 0.2
    slow_reply_share: float = 0.15
    redirect_share: float = 0.25
    resolve_share: float = 0.6
    follow_up_share: float = 0.35
    survey_share: float = 0.3

    def __post_init__(self) -> None:
        """Reject profiles that would produce invalid events or never terminate."""
        if not self.brands or not self.channels:
            raise ValueError("a traffic profile needs at least one brand and one channel")
        if not math.isfinite(self.conversations_per_minute) or self.conversations_per_minute < 0:
            raise ValueError("conversations_per_minute must be a finite number >= 0")
        if not math.isfinite(self.burst_multiplier) or self.burst_multiplier < 0:
            raise ValueError("burst_multiplier must be a finite number >= 0")
        for name in (
            "burst_probability",
            "unanswered_share",
            "bot_first_share",
            "slow_reply_share",
            "redirect_share",
            "resolve_share",
            "follow_up_share",
            "survey_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")


DEFAULT_PROFILE = TrafficProfile()


@lru_cache(maxsize=64)
def _day_text(day: int) -> str:
    """The date part, cached because a day holds many events."""
    return f"{_EPOCH + timedelta(days=day):%Y-%m-%d}"


def format_event_time(ms: int) -> str:
    """RFC 3339 UTC with milliseconds and 'Z', computed from integer ms to avoid float drift."""
    day, ms_of_day = divmod(ms, 86_400_000)
    second, millis = divmod(ms_of_day, 1000)
    minute, second = divmod(second, 60)
    hour, minute = divmod(minute, 60)
    return f"{_day_text(day)}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def to_json_lines(events: Iterable[dict[str, object]]) -> Iterator[str]:
    """Compact JSON, one object per line (newline included), ready for files and kcat."""
    for event in events:
        yield json.dumps(event, separators=(",", ":")) + "\n"


def _burst_rate_factor(profile: TrafficProfile) -> float:
    """Long-run mean rate multiplier caused by bursts (stationary share of minutes in a burst).

    A brand is in a burst at a minute if a burst for it started j minutes earlier (each minute
    independently, with probability burst_probability / brands) and lasts more than j minutes
    (uniform 5-20).
    """
    q = profile.burst_probability / len(profile.brands)
    calm = 1.0
    for j in range(_BURST_MAX_MINUTES):
        lasts_longer = (_BURST_MAX_MINUTES - max(j, _BURST_MIN_MINUTES - 1)) / (
            _BURST_MAX_MINUTES - _BURST_MIN_MINUTES + 1
        )
        calm *= 1.0 - q * lasts_longer
    factor = 1.0 + (1.0 - calm) * (profile.burst_multiplier - 1.0)
    return factor if factor > 0.0 else 1.0


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _lognormal_ms(rng: random.Random, median_s: float, sigma: float) -> float:
    """A right-skewed delay, as response times are in practice, in milliseconds."""
    return rng.lognormvariate(math.log(median_s), sigma) * _SECOND_MS


class SyntheticTraffic:
    """Seeded simulation of social care conversations, emitted lazily as v1 event dicts.

    Call `advance(until)` repeatedly (live, with the wall clock) or once (to build history).
    Memory is bounded by the conversations still in progress: only their future events are kept.
    Event ids are `syn-<seed>-<n>`; they are unique within one generator.
    """

    def __init__(
        self, start: float, seed: int = 0, profile: TrafficProfile = DEFAULT_PROFILE
    ) -> None:
        """Start the simulation clock at `start` (POSIX seconds); no event is earlier."""
        if not math.isfinite(start):
            raise ValueError("start must be a finite POSIX timestamp")
        self._profile = profile
        self._seed = seed
        self._rng = random.Random(seed)
        # Reviews draw from their own stream: the rest of the traffic is as without them.
        self._reviews = random.Random(f"reviews-{seed}")
        self._start_ms = math.ceil(start * 1000)
        self._next_minute_ms = self._start_ms
        self._next_id = 0
        self._heap: list[tuple[int, int, Event]] = []
        self._burst_end_ms = [self._start_ms] * len(profile.brands)
        self._burst_topic = [_CRISIS_TOPICS[0]] * len(profile.brands)
        n_channels = len(profile.channels)
        # Earlier channels are busier (twitter carries most public care traffic).
        self._channel_cum = _cum([float(n_channels - i) for i in range(n_channels)])
        self._conversations = 0
        # Calm-time rate per brand, so that the long-run mean including bursts is the profile's.
        self._base_rate_per_ms = (
            profile.conversations_per_minute
            / len(profile.brands)
            / _burst_rate_factor(profile)
            / _MINUTE_MS
        )

    @property
    def profile(self) -> TrafficProfile:
        """The traffic profile in use."""
        return self._profile

    @property
    def pending_events(self) -> int:
        """Scheduled events not yet returned; shows that memory stays bounded."""
        return len(self._heap)

    @property
    def conversations_started(self) -> int:
        """Conversations opened so far (including those whose events are still pending)."""
        return self._conversations

    def advance(self, until: float) -> list[dict[str, object]]:
        """Events with start <= occurred_at <= until not yet returned, sorted by occurred_at."""
        if math.isnan(until):
            raise ValueError("until must be a number")
        if math.isinf(until):
            raise ValueError("until must be finite (the traffic never ends)")
        limit = until * 1000.0
        while self._next_minute_ms <= limit:
            self._simulate_minute()
        heap = self._heap
        out: list[Event] = []
        while heap and heap[0][0] <= limit:
            out.append(heapq.heappop(heap)[2])
        return out

    # -- simulation ---------------------------------------------------------------------------

    def _simulate_minute(self) -> None:
        """Draw bursts and conversation arrivals for one simulated minute."""
        rng = self._rng
        profile = self._profile
        m0 = self._next_minute_ms
        m1 = m0 + _MINUTE_MS
        if rng.random() < profile.burst_probability:
            b = rng.randrange(len(profile.brands))
            end = m0 + rng.randint(_BURST_MIN_MINUTES, _BURST_MAX_MINUTES) * _MINUTE_MS
            if self._burst_end_ms[b] <= m0:
                self._burst_topic[b] = rng.choice(_CRISIS_TOPICS)
            self._burst_end_ms[b] = max(self._burst_end_ms[b], end)
        base_rate = self._base_rate_per_ms
        arrivals: list[tuple[int, int, bool]] = []
        for b in range(len(profile.brands)):
            crisis = self._burst_end_ms[b] > m0
            rate = base_rate * (profile.burst_multiplier if crisis else 1.0)
            if rate <= 0.0:
                continue
            t = float(m0)
            while True:  # Poisson process: exponential gaps (memoryless, so per-minute is exact)
                t += rng.expovariate(rate)
                if t >= m1:
                    break
                arrivals.append((int(t), b, crisis))
        arrivals.sort()
        for t_ms, b, crisis in arrivals:
            self._open_conversation(t_ms, b, crisis)
        self._next_minute_ms = m1

    def _emit(self, t_ms: int, conversation: Event, event_type: str, fields: Event) -> str:
        """Schedule one event; ids follow creation order, which also breaks time ties."""
        n = self._next_id
        self._next_id += 1
        event_id = f"syn-{self._seed}-{n}"
        event: Event = {
            "event_id": event_id,
            "type": event_type,
            "occurred_at": format_event_time(t_ms),
            "conversation_id": conversation.get("conversation_id", event_id),
            **conversation,
            **fields,
        }
        heapq.heappush(self._heap, (t_ms, n, event))
        return event_id

    def _review(self, sentiment: float) -> tuple[int, str] | None:
        """Stars and site for a review (stars follow the post's sentiment), or None."""
        reviews = self._reviews
        if reviews.random() >= _REVIEW_SHARE:
            return None
        stars = round(3 + 2 * sentiment + reviews.gauss(0.0, 0.7))
        return min(5, max(1, stars)), reviews.choice(_REVIEW_SOURCES)

    def _open_conversation(self, t0: int, b: int, crisis: bool) -> None:
        """Plan a whole conversation at its arrival; all random draws happen here, in order."""
        rng = self._rng
        profile = self._profile
        self._conversations += 1
        brand = profile.brands[b]
        channel = rng.choices(profile.channels, cum_weights=self._channel_cum)[0]
        inquiry = rng.choices(
            _INQUIRY_TYPES, cum_weights=_CRISIS_INQUIRY_CUM if crisis else _INQUIRY_CUM
        )[0]
        priority = rng.choices(
            _PRIORITIES,
            cum_weights=_COMPLAINT_PRIORITY_CUM if inquiry == "complaint" else _PRIORITY_CUM,
        )[0]
        low, high = _SENTIMENT_RANGE[inquiry]
        sentiment = sentiment_at_opening = round(rng.uniform(low, high), 3)
        topic = self._burst_topic[b] if crisis else rng.choice(_TOPICS)
        customer = rng.randrange(_CUSTOMER_POOL)
        if customer < _REGULAR_SHARE * _CUSTOMER_POOL:
            customer %= _REGULARS
        author = f"cust-{customer}"

        conversation: Event = {"brand": brand, "channel": channel, "schema_version": 1}
        opening: Event = {
            "author_id": author,
            "text": rng.choice(_MENTION_TEXTS[inquiry]).format(brand=brand, topic=topic),
            "priority": priority,
            "sentiment": sentiment,
            "inquiry_type": inquiry,
            "language": "en",
        }
        if rng.random() < 0.35:
            opening["customer_value"] = round(rng.lognormvariate(math.log(400.0), 1.0), 2)
        review = self._review(sentiment)
        if review is not None:
            opening.update(rating=review[0], review_source=review[1])
        conversation_id = self._emit(t0, conversation, "mention", opening)
        conversation = {"conversation_id": conversation_id, **conversation}
        last_t = t0

        if rng.random() < profile.bot_first_share:
            last_t = t0 + rng.randint(5 * _SECOND_MS, 30 * _SECOND_MS)
            bot_reply: Event = {
                "agent_id": "bot",
                "team": "automation",
                "in_reply_to": conversation_id,
                "text": rng.choice(_BOT_TEXTS),
                "public": True,
                "automated": True,
                "resolves": False,
            }
            self._emit(last_t, conversation, "reply", bot_reply)

        if rng.random() < profile.unanswered_share:
            return  # nobody from the brand ever answers

        # Draw the conversation's fate up front.
        slow = rng.random() < profile.slow_reply_share
        redirect = rng.random() < profile.redirect_share
        follow_ups = 0
        if rng.random() < profile.follow_up_share:
            follow_ups = 1
            while follow_ups < _MAX_FOLLOW_UPS and rng.random() < 0.35:
                follow_ups += 1
        resolved = rng.random() < profile.resolve_share
        survey = resolved and rng.random() < profile.survey_share
        human_replies = 1 + follow_ups
        redirect_at = -1
        if redirect:
            redirect_at = 0 if rng.random() < 0.7 else rng.randrange(human_replies)
        # Resolved either by the last reply of the exchange or by a later, separate reply.
        resolve_inline = resolved and rng.random() < 0.5
        team = rng.choices(_TEAMS, cum_weights=_TEAM_CUM_BY_PRIORITY[priority])[0]
        agent_id = f"agent-{brand}-{rng.choice(_TEAM_AGENTS[team])}"

        factor = _PRIORITY_DELAY_FACTOR[priority] * (2.5 if crisis else 1.0)
        if slow:
            first_delay = rng.uniform(1800.0, 6 * 3600.0) * _SECOND_MS
        else:
            first_delay = _clamp(
                _lognormal_ms(rng, 240.0, 0.7) * factor, 15 * _SECOND_MS, 1799 * _SECOND_MS
            )

        public = True
        last_post = conversation_id
        last_mention = conversation_id
        for k in range(human_replies):
            if k == 0:
                t = max(t0 + int(first_delay), last_t + _SECOND_MS)
                text_pool = _CRISIS_REPLY_TEXTS if crisis else _FIRST_REPLY_TEXTS
            else:
                delay = _clamp(
                    _lognormal_ms(rng, 600.0, 0.9), 30 * _SECOND_MS, 4 * 3600 * _SECOND_MS
                )
                last_t += int(delay)
                sentiment = round(_clamp(sentiment + rng.gauss(0.05, 0.3), -1.0, 1.0), 3)
                follow_up: Event = {
                    "author_id": author,
                    "text": rng.choice(_FOLLOW_UP_TEXTS).format(topic=topic),
                    "in_reply_to": last_post,
                    "priority": priority,
                    "sentiment": sentiment,
                    "inquiry_type": inquiry,
                    "language": "en",
                }
                if review is not None:  # the reviewer edits it after the brand's answer
                    stars = min(5, review[0] + self._reviews.choice((0, 1, 2, 3)))
                    follow_up.update(rating=stars, review_source=review[1])
                last_post = last_mention = self._emit(last_t, conversation, "mention", follow_up)
                delay = _clamp(
                    _lognormal_ms(rng, 300.0, 0.8) * factor, 10 * _SECOND_MS, 3 * 3600 * _SECOND_MS
                )
                t = last_t + int(delay)
                text_pool = _NEXT_REPLY_TEXTS
                if rng.random() < 0.15:  # handover to a colleague of the same team
                    agent_id = f"agent-{brand}-{rng.choice(_TEAM_AGENTS[team])}"
            if k == redirect_at:
                text_pool = _REDIRECT_REPLY_TEXTS
            resolves = resolve_inline and k == human_replies - 1
            if resolves:
                text_pool = _RESOLVE_TEXTS
            reply: Event = {
                "agent_id": agent_id,
                "team": team,
                "in_reply_to": last_post,
                "text": rng.choice(text_pool).format(topic=topic),
                "public": public,
                "automated": False,
                "resolves": resolves,
            }
            last_post = self._emit(t, conversation, "reply", reply)
            last_t = t
            if k == redirect_at:
                redirection: Event = {
                    "to_channel": rng.choices(_TO_CHANNELS, cum_weights=_TO_CHANNEL_CUM)[0],
                    "agent_id": agent_id,
                    "reason": rng.choice(_REDIRECT_REASONS),
                }
                self._emit(t, conversation, "redirection", redirection)
                public = False  # the rest of the exchange happens in private

        if not resolved:
            return
        if not resolve_inline:
            median = 3600.0 if redirect else 900.0
            delay = _clamp(_lognormal_ms(rng, median, 1.0), 60 * _SECOND_MS, 24 * 3600 * _SECOND_MS)
            last_t += int(delay)
            final: Event = {
                "agent_id": agent_id,
                "team": team,
                "in_reply_to": last_mention,
                "text": rng.choice(_RESOLVE_TEXTS).format(topic=topic),
                "public": public,
                "automated": False,
                "resolves": True,
            }
            self._emit(last_t, conversation, "reply", final)
        if survey:
            # Waiting long or writing again and again spoils the score; a crisis amplifies it.
            bad_experience = slow or follow_ups >= 2 or (crisis and follow_ups >= 1)
            expected = expected_csat(sentiment_at_opening, first_delay, follow_ups, redirect)
            self._plan_survey(last_t, conversation, bad_experience, expected)

    def _plan_survey(
        self, resolved_at: int, conversation: Event, bad_experience: bool, expected_csat: float
    ) -> None:
        """A survey answer some minutes after resolution; a poor experience lowers the score."""
        rng = self._rng
        t = resolved_at + int(rng.uniform(2.0, 45.0) * _MINUTE_MS)
        kind = "csat" if rng.random() < 0.6 else "nps"
        if kind == "csat":
            # One draw, as the NPS score takes: the other conversations' draws do not move.
            score = csat_answer(expected_csat, rng.random())
        else:
            score = rng.choices(_NPS_SCORES, cum_weights=_NPS_BAD if bad_experience else _NPS_GOOD)[
                0
            ]
        survey: Event = {
            "kind": kind,
            "score": score,
            "survey_id": f"svy-{conversation['conversation_id']}",
        }
        self._emit(t, conversation, "survey", survey)
