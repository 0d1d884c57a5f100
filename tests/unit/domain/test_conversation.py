"""Conversation state and its metric contributions (processor/domain/conversation.py), by hand.

Policy in every test unless said otherwise: first response 15 min = 900 s, next response
1 h = 3600 s (the default), resolution 8 h = 28800 s. T0 = 2017-10-31T22:10:47Z =
1509487847 (see test_events.test_occurred_ts).

Rules: DEFAULT_RULES (inactivity 86400 s, at-risk margin 600 s) unless a test passes
NARROW (no inactivity resolution, no at-risk margin): the old first-response-only view.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from processor.domain.conversation import (
    AWAITING_CUSTOMER,
    AWAITING_FIRST_RESPONSE,
    AWAITING_NEXT_RESPONSE,
    BREACHED,
    DEFAULT_RULES,
    ConversationRules,
    ConversationState,
    advance_clock,
    apply_event,
    next_check,
)
from processor.domain.events import Mention, Redirection, Rejection, Reply, Survey, decode_event
from processor.domain.sla import SlaPolicyCache, SlaPolicySet, SlaRule, SlaTargets
from processor.domain.timeline import walk
from tests.series_form import Stored as Contributions
from tests.series_form import contributions, difference, event_increments

T0 = 1509487847.0
BRAND, CHANNEL = "AcmeSupport", "twitter"
L = (BRAND, CHANNEL)
CID = "tw-1"
NARROW = ConversationRules(inactivity_seconds=0, at_risk_margin_seconds=0)

AnyEvent = Mention | Reply | Redirection | Survey
Key = tuple[str, tuple[str, ...], float | None]


def policies(**rules: Any) -> SlaPolicyCache:
    return SlaPolicyCache(
        SlaPolicySet(
            default=SlaTargets(first_response=timedelta(minutes=15), resolution=timedelta(hours=8)),
            rules=[SlaRule(**rule) for rule in rules.get("rules", [])],
        )
    )


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


_counter = itertools.count()


def event(event_type: str, offset: float, /, **fields: Any) -> AnyEvent:
    """A decoded event of `event_type` at T0 + offset seconds."""
    doc: dict[str, Any] = {
        "event_id": fields.pop("event_id", f"e-{next(_counter)}"),
        "type": event_type,
        "occurred_at": iso(T0 + offset),
        "conversation_id": CID,
        "brand": BRAND,
        "channel": CHANNEL,
    }
    if event_type == "mention":
        doc["author_id"] = "u-1"
    doc.update(fields)
    decoded = decode_event(orjson.dumps(doc), event_type, 1_000_000)
    assert not isinstance(decoded, Rejection), decoded
    return decoded


def mention(offset: float, **fields: Any) -> AnyEvent:
    return event("mention", offset, **fields)


def reply(offset: float, **fields: Any) -> AnyEvent:
    return event("reply", offset, **fields)


def new_state() -> ConversationState:
    return ConversationState(conversation_id=CID, partition=2)


def run(
    events: list[AnyEvent],
    cache: SlaPolicyCache | None = None,
    rules: ConversationRules = DEFAULT_RULES,
) -> ConversationState:
    cache = cache or policies()
    state = new_state()
    for item in events:
        apply_event(state, item, cache, rules)
    return state


def FRT(index: int) -> tuple[str, tuple[str, ...], None]:
    return ("first_response_seconds_bucket", (*L, str(index)), None)


OPENED = ("conversations_opened_total", L, None)
FRT_SUM = ("first_response_seconds_sum", L, None)
FRT_COUNT = ("first_response_seconds_count", L, None)
ANSWERED = ("mentions_answered_total", L, None)


def sla(outcome: str, at: float, priority: str = "normal") -> tuple[str, tuple[str, ...], float]:
    return ("first_response_sla_total", (*L, priority, outcome), at)


def resolution_sla(outcome: str, at: float, priority: str = "normal") -> Key:
    return ("resolution_sla_total", (*L, priority, outcome), at)


def resolved(at: float, how: str = "explicit") -> Key:
    return ("resolutions_total", (*L, how), at)


def open_state(name: str) -> tuple[str, tuple[str, ...], None]:
    return ("open_conversations", (*L, name), None)


def histogram(name: str, labels: tuple[str, ...], index: int, value: float) -> Contributions:
    """The three series of one observation: its bucket, the sum and the count."""
    return {
        (f"{name}_bucket", (*L, *labels, str(index)), None): 1.0,
        (f"{name}_sum", (*L, *labels), None): value,
        (f"{name}_count", (*L, *labels), None): 1.0,
    }


def team_frt(team: str, index: int, value: float) -> Contributions:
    """team_first_response_seconds: the first response again, labelled by its reply's team."""
    return histogram("team_first_response_seconds", (team,), index, value)


def team_resolution(team: str, index: int, value: float) -> Contributions:
    """team_resolution_seconds: the first resolution, by the team of the resolving reply."""
    return histogram("team_resolution_seconds", (team,), index, value)


def resolution_effort(
    seconds: float,
    seconds_index: int,
    customer_posts: int,
    brand_posts: int,
    channels: int = 1,
    redirected: str = "false",
) -> Contributions:
    """The histograms a first resolution contributes (time, posts by side, channels).

    POSTS_BUCKETS (1, 2, 3, 4, 5, 6, 8, ...): the index of n <= 6 is n - 1.
    """
    out: Contributions = {}
    out.update(histogram("resolution_seconds", (redirected,), seconds_index, seconds))
    out.update(histogram("posts_to_resolution", ("customer",), customer_posts - 1, customer_posts))
    out.update(histogram("posts_to_resolution", ("brand",), brand_posts - 1, brand_posts))
    out.update(histogram("customer_effort_channels", (), channels - 1, channels))
    return out


# -- single conversations -------------------------------------------------------------------


def test_empty_state_contributes_nothing() -> None:
    assert contributions(new_state()) == {}
    assert next_check(new_state()) is None


def test_opened_awaiting() -> None:
    state = run([mention(0)])
    assert state.opened_at == T0
    assert (state.first_response_target, state.next_response_target) == (900.0, 3600.0)
    assert state.resolution_target == 28800.0
    assert state.first_response_deadline == T0 + 900
    assert walk(state).first_response_at is None
    assert contributions(state) == {OPENED: 1.0, open_state(AWAITING_FIRST_RESPONSE): 1.0}
    # first check: at risk at deadline - margin = 900 - 600 = 300
    assert next_check(state) == T0 + 300


def test_answered_in_time() -> None:
    state = run([mention(0), reply(300, agent_id="a-1", team="Tier 1")], rules=NARROW)
    # waited 300 s; bounds 30, 60, 120, 300 -> le="300" is index 3; deadline T0+900 not passed.
    # The opening post was answered (1); the brand now waits for the customer.
    # The same observation by the team of that reply: "Tier 1" (no allowlist: as given).
    assert contributions(state) == {
        OPENED: 1.0,
        FRT(3): 1.0,
        FRT_SUM: 300.0,
        FRT_COUNT: 1.0,
        **team_frt("Tier 1", 3, 300.0),
        sla("met", T0 + 300): 1.0,
        ANSWERED: 1.0,
        open_state(AWAITING_CUSTOMER): 1.0,
    }
    assert state.brand_posts == 1
    assert state.automated_posts == 0


def test_answered_exactly_at_deadline_is_met() -> None:
    # waited 900 = target: met; le="900" is index 5 (30,60,120,300,600,900)
    state = run([mention(0), reply(900)], rules=NARROW)
    assert contributions(state)[sla("met", T0 + 900)] == 1.0
    assert contributions(state)[FRT(5)] == 1.0


def test_answered_late_breached_at_deadline_time() -> None:
    state = run([mention(0), reply(1200)], rules=NARROW)
    # waited 1200: 900 < 1200 <= 1800 -> index 6. Breach is counted at the deadline T0+900.
    # The reply has no team: the team histogram says "unassigned".
    assert contributions(state) == {
        OPENED: 1.0,
        FRT(6): 1.0,
        FRT_SUM: 1200.0,
        FRT_COUNT: 1.0,
        **team_frt("unassigned", 6, 1200.0),
        sla("breached", T0 + 900): 1.0,
        ANSWERED: 1.0,
        open_state(AWAITING_CUSTOMER): 1.0,
    }


def test_priority_label_comes_from_the_opening_mention() -> None:
    state = run([mention(0, priority="urgent"), reply(60)], rules=NARROW)
    assert contributions(state)[sla("met", T0 + 60, "urgent")] == 1.0


def test_never_answered_then_swept() -> None:
    state = run([mention(0)], rules=NARROW)
    before = contributions(state)
    assert next_check(state) == T0 + 900  # no margin: the deadline itself
    assert not advance_clock(state, T0 + 899)  # deadline T0+900 not reached
    assert state.swept_until == T0 + 899
    assert contributions(state) == before
    assert advance_clock(state, T0 + 900)  # deadline <= now
    after = contributions(state)
    assert after == {OPENED: 1.0, sla("breached", T0 + 900): 1.0, open_state(BREACHED): 1.0}
    assert difference(before, after) == {
        open_state(AWAITING_FIRST_RESPONSE): -1.0,
        open_state(BREACHED): 1.0,
        sla("breached", T0 + 900): 1.0,
    }
    # the next check is the resolution deadline T0+28800: a sweep before it changes nothing
    assert next_check(state) == T0 + 28800
    assert not advance_clock(state, T0 + 5000)
    assert contributions(state) == after
    # a sweep that goes back in time changes nothing either
    assert not advance_clock(state, T0 + 100)
    assert state.swept_until == T0 + 5000


def test_advance_clock_ignores_unopened_and_answered() -> None:
    only_reply = run([reply(0)], rules=NARROW)
    assert next_check(only_reply) is None
    assert not advance_clock(only_reply, T0 + 10**6)
    assert contributions(only_reply) == {}
    # Answered at +100 (met): no first-response breach, whatever the clock. What remains
    # is the resolution deadline T0+28800 (never resolved, no inactivity rule): breached.
    answered = run([mention(0), reply(100)], rules=NARROW)
    assert next_check(answered) == T0 + 28800
    assert not advance_clock(answered, T0 + 28799)
    assert advance_clock(answered, T0 + 10**6)
    out = contributions(answered)
    assert out[sla("met", T0 + 100)] == 1.0
    assert sla("breached", T0 + 900) not in out
    assert out[resolution_sla("breached", T0 + 28800)] == 1.0
    assert out[open_state(AWAITING_CUSTOMER)] == 1.0


def test_silence_breach_then_late_reply() -> None:
    state = run([mention(0)], rules=NARROW)
    assert advance_clock(state, T0 + 1000)
    before = contributions(state)
    apply_event(state, reply(2000), policies(), NARROW)
    after = contributions(state)
    # stays breached (at the deadline), FRT observed: 2000 in (1800, 3600] -> index 7;
    # no longer waiting: the brand awaits the customer. The reply has no team: unassigned.
    assert after == {
        OPENED: 1.0,
        FRT(7): 1.0,
        FRT_SUM: 2000.0,
        FRT_COUNT: 1.0,
        **team_frt("unassigned", 7, 2000.0),
        sla("breached", T0 + 900): 1.0,
        ANSWERED: 1.0,
        open_state(AWAITING_CUSTOMER): 1.0,
    }
    assert difference(before, after) == {
        open_state(BREACHED): -1.0,
        FRT(7): 1.0,
        FRT_SUM: 2000.0,
        FRT_COUNT: 1.0,
        **team_frt("unassigned", 7, 2000.0),
        ANSWERED: 1.0,
        open_state(AWAITING_CUSTOMER): 1.0,
    }


def test_reply_stamped_before_the_deadline_after_a_sweep_is_met() -> None:
    # Event-time truth: swept to T0+1000 (breached by silence), then a reply stamped
    # T0+800 arrives. 800 <= 900: met at T0+800; FRT 800 in (600, 900] -> index 5.
    state = run([mention(0)], rules=NARROW)
    assert advance_clock(state, T0 + 1000)
    before = contributions(state)
    apply_event(state, reply(800), policies(), NARROW)
    assert difference(before, contributions(state)) == {
        sla("breached", T0 + 900): -1.0,
        sla("met", T0 + 800): 1.0,
        open_state(BREACHED): -1.0,
        open_state(AWAITING_CUSTOMER): 1.0,
        FRT(5): 1.0,
        FRT_SUM: 800.0,
        FRT_COUNT: 1.0,
        **team_frt("unassigned", 5, 800.0),  # the reply has no team
        ANSWERED: 1.0,
    }


def test_only_bot_replies() -> None:
    cache = policies()
    state = run([mention(0)], cache, NARROW)
    bot = reply(30, automated=True)
    before = contributions(state)
    apply_event(state, bot, cache, NARROW)
    assert (state.brand_posts, state.automated_posts) == (1, 1)
    assert walk(state).first_response_at is None
    # a bot reply neither stops the clock nor answers the mention
    assert contributions(state) == {OPENED: 1.0, open_state(AWAITING_FIRST_RESPONSE): 1.0}
    assert difference(before, contributions(state)) == {}
    assert next_check(state) == T0 + 900
    assert event_increments(bot) == {("replies_total", (*L, "automated"), None): 1.0}


def test_reply_before_its_mention() -> None:
    in_order = run([mention(0), reply(300)])
    out_of_order = new_state()
    apply_event(out_of_order, reply(300), policies())
    # before the mention: labelled, nothing opened, nothing contributed
    assert (out_of_order.brand, out_of_order.channel) == L
    assert out_of_order.opened_at is None
    assert contributions(out_of_order) == {}
    assert next_check(out_of_order) is None
    apply_event(out_of_order, mention(0), policies())
    assert contributions(out_of_order) == contributions(in_order)
    assert out_of_order.to_json() == in_order.to_json()


def test_followup_earlier_than_first_seen_reopens_earlier() -> None:
    cache = policies()
    state = run([mention(600)], cache, NARROW)
    assert state.first_response_deadline == T0 + 1500  # 600 + 900
    apply_event(state, mention(0), cache, NARROW)
    assert state.opened_at == T0
    assert state.customer_posts == 2
    assert state.first_response_deadline == T0 + 900
    assert not advance_clock(state, T0 + 899)
    assert advance_clock(state, T0 + 900)
    assert contributions(state)[sla("breached", T0 + 900)] == 1.0


def test_followup_after_opening_changes_nothing_but_the_count() -> None:
    # No response yet: a second customer post is not a next-response wait, it only counts.
    cache = policies()
    state = run([mention(0, priority="high")], cache)
    before = contributions(state)
    apply_event(state, mention(600, priority="low"), cache)
    assert state.customer_posts == 2
    assert (state.opened_at, state.priority) == (T0, "high")
    assert contributions(state) == before


def test_resolution_counted_once_at_earliest_resolving_reply() -> None:
    cache = policies()
    state = run([mention(0), reply(5000, resolves=True)], cache)
    assert contributions(state)[resolved(T0 + 5000)] == 1.0
    before = contributions(state)
    apply_event(state, reply(3000, resolves=True), cache)
    apply_event(state, reply(7000, resolves=True), cache)
    after = contributions(state)
    # the earliest resolves (+3000); the later resolving replies find it already resolved
    assert walk(state).resolutions == [(T0 + 3000, "explicit")]
    resolutions = {key: value for key, value in after.items() if key[0] == "resolutions_total"}
    assert resolutions == {resolved(T0 + 3000): 1.0}
    delta = difference(before, after)
    assert delta[resolved(T0 + 5000)] == -1.0
    assert delta[resolved(T0 + 3000)] == 1.0


def test_automated_resolution_stops_awaiting_without_first_response() -> None:
    state = run([mention(0), reply(60, automated=True, resolves=True)], rules=NARROW)
    assert not walk(state).open_now
    before = contributions(state)
    # Resolved at +60 by a bot: no first response (no human reply), the first-response
    # clock stopped at +60 < deadline +900: no outcome. Resolution 60 s: RESOLUTION_BUCKETS
    # (300, ...) -> index 0; posts to resolution: 1 customer, 1 brand (the bot); 1 channel.
    # Not a first-contact resolution (no human reply). Resolution SLA met at +60.
    # No human reply at or before the resolution: its team histogram says "unassigned".
    assert contributions(state) == {
        OPENED: 1.0,
        resolved(T0 + 60): 1.0,
        **resolution_effort(60.0, 0, customer_posts=1, brand_posts=1),
        **team_resolution("unassigned", 0, 60.0),
        resolution_sla("met", T0 + 60): 1.0,
    }
    # the clock passing the first-response deadline changes nothing: it was stopped first
    advance_clock(state, T0 + 10**6)
    assert contributions(state) == before


def test_sla_target_fixed_at_open() -> None:
    cache = policies()
    state = run([mention(0)], cache)
    cache.replace(
        SlaPolicySet(
            default=SlaTargets(
                first_response=timedelta(minutes=5),
                resolution=timedelta(hours=1),
                next_response=timedelta(minutes=10),
            )
        ),
        version=2,
    )
    later_rules = ConversationRules(inactivity_seconds=60, at_risk_margin_seconds=1)
    apply_event(state, mention(100), cache, later_rules)
    apply_event(state, reply(600), cache, later_rules)
    assert (state.first_response_target, state.resolution_target) == (900.0, 28800.0)
    assert state.next_response_target == 3600.0
    # the rules in force at open stay too
    assert (state.inactivity_seconds, state.at_risk_margin) == (86400.0, 600.0)
    assert state.first_response_deadline == T0 + 900
    # 600 <= 900 under the target fixed at open (it would breach under the new 300 s)
    assert contributions(state)[sla("met", T0 + 600)] == 1.0
    # a conversation opened after the change gets the new targets (300 s, 600 s, 3600 s)
    fresh = new_state()
    apply_event(fresh, mention(0), cache, later_rules)
    assert (fresh.first_response_target, fresh.next_response_target) == (300.0, 600.0)
    assert fresh.resolution_target == 3600.0
    assert (fresh.inactivity_seconds, fresh.at_risk_margin) == (60.0, 1.0)


def test_json_round_trip() -> None:
    cache = policies()
    state = run(
        [
            mention(0, priority="high"),
            reply(30, automated=True),
            reply(400),
            event("redirection", 500, to_channel="dm"),
            reply(600, resolves=True),
            event("survey", 900, kind="csat", score=5),
            event("survey", 950, kind="nps", score=3),
        ],
        cache,
    )
    advance_clock(state, T0 + 1000)
    wire = orjson.dumps(state.to_json())
    back = ConversationState.from_json(orjson.loads(wire))
    assert back == state
    assert back.surveys == [("csat", 5), ("nps", 3)]
    assert back.redirections == {"dm": T0 + 500}
    assert (T0 + 600, "r") in back.tail
    assert back.swept_until == T0 + 1000
    assert contributions(back) == contributions(state)
    assert next_check(back) == next_check(state)


def test_event_increments() -> None:
    at = T0 + 42
    # No sentiment and no inquiry type given: both classified "unknown".
    assert event_increments(mention(42)) == {
        ("mentions_total", L, at): 1.0,
        ("mentions_by_sentiment_total", (*L, "unknown"), None): 1.0,
        ("mentions_by_inquiry_type_total", (*L, "unknown"), None): 1.0,
    }
    # -0.3 < -0.05: negative; a complaint also counts (windowed) in complaints_total.
    assert event_increments(mention(42, sentiment=-0.3, inquiry_type="complaint")) == {
        ("mentions_total", L, at): 1.0,
        ("mentions_by_sentiment_total", (*L, "negative"), None): 1.0,
        ("mentions_by_inquiry_type_total", (*L, "complaint"), None): 1.0,
        ("complaints_total", L, at): 1.0,
    }
    # 0.05 is not above 0.05: neutral.
    assert (
        event_increments(mention(42, sentiment=0.05, inquiry_type="praise"))[
            ("mentions_by_sentiment_total", (*L, "neutral"), None)
        ]
        == 1.0
    )
    # A human reply without a team counts for team "unassigned"; no agent series (the
    # default rules list no agents).
    assert event_increments(reply(42)) == {
        ("replies_total", (*L, "human"), None): 1.0,
        ("team_replies_total", (*L, "unassigned"), None): 1.0,
    }
    assert event_increments(event("redirection", 42, to_channel="email")) == {
        ("redirections_total", (*L, "email"), None): 1.0
    }
    # Surveys: only the answer count is event-level; CSAT and NPS are conversation-level
    # (CSAT labelled by redirection), see test_survey_contributions.
    assert event_increments(event("survey", 42, kind="nps", score=10)) == {
        ("surveys_total", (*L, "nps"), None): 1.0,
    }
    assert event_increments(event("survey", 42, kind="csat", score=3)) == {
        ("surveys_total", (*L, "csat"), None): 1.0,
    }


def survey_series(out: Contributions) -> Contributions:
    return {k: v for k, v in out.items() if k[0].startswith(("csat_", "nps_"))}


def test_survey_contributions() -> None:
    # NPS 10 promoter, 7 passive, 6 detractor; CSAT 3: a response, its score in the sum,
    # not satisfied: follow-up needed; CSAT 4: satisfied. No redirection: redirected=false.
    state = run(
        [mention(0)]
        + [event("survey", 42, kind="nps", score=score) for score in (10, 7, 6)]
        + [event("survey", 42, kind="csat", score=score) for score in (3, 4)]
    )
    assert survey_series(contributions(state)) == {
        ("nps_responses_total", (*L, "promoter"), None): 1.0,
        ("nps_responses_total", (*L, "passive"), None): 1.0,
        ("nps_responses_total", (*L, "detractor"), None): 1.0,
        ("csat_responses_total", (*L, "false"), None): 2.0,
        ("csat_score_total", (*L, "false"), None): 7.0,  # 3 + 4
        ("csat_followup_needed_total", (*L, "false"), None): 1.0,
        ("csat_satisfied_total", (*L, "false"), None): 1.0,
    }


def test_difference_drops_zeros() -> None:
    a = ("x", ("b", "c"), None)
    b = ("y", ("b", "c"), 5.0)
    c = ("z", ("b", "c"), None)
    assert difference({a: 1.0, b: 2.0}, {a: 1.0, b: 3.0, c: 1.0}) == {b: 1.0, c: 1.0}
    assert difference({a: 1.0}, {}) == {a: -1.0}
    assert difference({}, {}) == {}


# -- order independence ---------------------------------------------------------------------

SIX_EVENTS = [
    mention(0, priority="high", event_id="m1"),
    mention(600, event_id="m2"),  # follow-up after the resolution: a reopen
    reply(60, automated=True, event_id="r-bot"),
    reply(300, resolves=True, event_id="r-human"),
    event("redirection", 400, to_channel="dm", event_id="x1"),
    event("survey", 5000, kind="csat", score=5, event_id="s1"),
]


def _add(total: Counter[Any], delta: Contributions) -> None:
    for key, value in delta.items():
        total[key] += value


def test_every_permutation_gives_the_same_state_and_totals() -> None:
    # Hand result (default rules, clock never advanced). Timeline: c@0, b@60, h@300,
    # resolve@300, c@600.
    # - opened at T0, priority high; first human reply at +300 (waited 300, index 3),
    #   met (300 <= 900) at +300; the opening post was answered (1).
    # - resolved explicitly at +300 with 1 customer post, 2 brand posts (bot + human),
    #   1 human reply; resolution 300 s -> RESOLUTION_BUCKETS index 0; the redirection at
    #   +400 is after the resolution: redirected=false, 1 channel. Resolution SLA met.
    # - the follow-up at +600 reopens it (reopens 1, so no first-contact resolution) and
    #   starts a next-response wait (deadline +600+3600, not reached): awaiting next
    #   response; not yet answered, so still 1 mention answered.
    # - teams: the only human reply (+300) has no team: "unassigned" for the first response
    #   (300 s, index 3), the resolution (300 s, index 0) and the team reply count.
    # - CSAT 5 on a conversation with a redirection: redirected=true, satisfied.
    expected_state = {
        "conversation_id": CID,
        "partition": 2,
        "brand": BRAND,
        "channel": CHANNEL,
        "priority": "high",
        "opened_at": T0,
        "customer_posts": 2,
        "brand_posts": 2,
        "automated_posts": 1,
        "first_response_target": 900.0,
        "next_response_target": 3600.0,
        "resolution_target": 28800.0,
        "inactivity_seconds": 86400.0,
        "at_risk_margin": 600.0,
        "negative_below": -0.05,
        "customer_value": None,  # no mention gives one
        # the thread's marks, none settled: posts by kind (human replies with their team),
        # the resolving reply's resolution after it
        "tail": [
            (T0, "c"),
            (T0 + 60, "b"),
            (T0 + 300, "hunassigned"),
            (T0 + 300, "r"),
            (T0 + 600, "c"),
        ],
        "settled_until": None,
        "redirections": {"dm": T0 + 400},  # channel -> earliest redirection
        "surveys": [["csat", 5]],  # JSON-shaped, as stored in the changelog
        "opening_sentiment": None,
        "opening_instant_sentiment": None,
        "later_sentiment_max": None,
        "swept_until": None,
        "last_event_at": T0 + 5000,  # the survey, the latest event
    }
    expected_totals = {
        OPENED: 1.0,
        FRT(3): 1.0,
        FRT_SUM: 300.0,
        FRT_COUNT: 1.0,
        sla("met", T0 + 300, "high"): 1.0,
        ANSWERED: 1.0,
        resolved(T0 + 300): 1.0,
        ("reopens_total", L, None): 1.0,
        **resolution_effort(300.0, 0, customer_posts=1, brand_posts=2),
        **team_frt("unassigned", 3, 300.0),
        **team_resolution("unassigned", 0, 300.0),
        ("team_replies_total", (*L, "unassigned"), None): 1.0,
        resolution_sla("met", T0 + 300, "high"): 1.0,
        open_state(AWAITING_NEXT_RESPONSE): 1.0,
        ("mentions_total", L, T0): 1.0,
        ("mentions_total", L, T0 + 600): 1.0,
        ("replies_total", (*L, "automated"), None): 1.0,
        ("replies_total", (*L, "human"), None): 1.0,
        ("redirections_total", (*L, "dm"), None): 1.0,
        ("surveys_total", (*L, "csat"), None): 1.0,
        # CSAT 5: one response, score 5, satisfied; the conversation has a redirection.
        ("csat_responses_total", (*L, "true"), None): 1.0,
        ("csat_score_total", (*L, "true"), None): 5.0,
        ("csat_satisfied_total", (*L, "true"), None): 1.0,
        # Two mentions without sentiment or inquiry type.
        ("mentions_by_sentiment_total", (*L, "unknown"), None): 2.0,
        ("mentions_by_inquiry_type_total", (*L, "unknown"), None): 2.0,
    }
    cache = policies()
    count = 0
    first_document: dict[str, Any] | None = None
    for order in itertools.permutations(SIX_EVENTS):
        state = new_state()
        totals: Counter[Any] = Counter()
        for item in order:
            before = contributions(state)
            apply_event(state, item, cache)
            _add(totals, difference(before, contributions(state)))
            _add(totals, event_increments(item))
        document = state.to_json()
        # The hand-computed fields; fields added to the state later (e.g. a business-hours
        # calendar) must at least be the same in every order.
        assert {name: document.get(name) for name in expected_state} == expected_state, [
            e.event_id for e in order
        ]
        first_document = first_document or document
        assert document == first_document, [e.event_id for e in order]
        assert {k: v for k, v in totals.items() if v != 0} == expected_totals
        count += 1
    assert count == 720  # 6!


def test_permutations_with_a_sweep_in_between() -> None:
    # Mention at T0, reply at T0+1200, a sweep at now=T0+1000 anywhere in the order.
    # A sweep before the mention or after the reply changes no outcome; a sweep between
    # them breaches by silence. Either way the outcome is breached, counted at the deadline
    # T0+900 (the reply came 1200 > 900 s after opening), and FRT is 1200 (index 6).
    # With a reply at +800 instead, the outcome is met at +800 in every order (event-time
    # truth, even when the sweep to +1000 came first); FRT 800 -> index 5.
    # The reply has no team: the team first-response histogram says "unassigned".
    cache = policies()
    for reply_at, outcome, index in ((1200, sla("breached", T0 + 900), 6),
                                     (800, sla("met", T0 + 800), 5)):  # fmt: skip
        for order in itertools.permutations(["m", "r", "sweep"]):
            state = new_state()
            for step in order:
                if step == "m":
                    apply_event(state, mention(0), cache, NARROW)
                elif step == "r":
                    apply_event(state, reply(reply_at), cache, NARROW)
                else:
                    advance_clock(state, T0 + 1000)
            assert contributions(state) == {
                OPENED: 1.0,
                FRT(index): 1.0,
                FRT_SUM: float(reply_at),
                FRT_COUNT: 1.0,
                **team_frt("unassigned", index, float(reply_at)),  # the reply has no team
                outcome: 1.0,
                ANSWERED: 1.0,
                open_state(AWAITING_CUSTOMER): 1.0,
            }, order


def test_targets_follow_the_opening_mention_in_any_order() -> None:
    # Rule: priority high -> first response 5 min (300 s). Opening mention at T0 is high,
    # follow-up at T0+600 is normal. The conversation opened at T0 with priority high, so
    # the deadline is T0 + 300 in both orders.
    cache = policies(rules=[{"priority": "high", "first_response": timedelta(minutes=5)}])
    opening = mention(0, priority="high")
    follow_up = mention(600)
    in_order = run([opening, follow_up], cache)
    reversed_order = run([follow_up, opening], cache)
    assert in_order.first_response_deadline == T0 + 300
    assert reversed_order.first_response_deadline == T0 + 300
    assert reversed_order.to_json() == in_order.to_json()
