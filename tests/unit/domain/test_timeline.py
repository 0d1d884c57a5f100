"""The conversation timeline: next responses, response rate, resolutions (explicit and by
inactivity), reopens, resolution SLA, First Social Contact Resolution, effort, backlog
states, clock checks, CSAT by redirection and order independence, all computed by hand.

Policy (tests.unit.domain.test_conversation.policies): first response 900 s, next response 3600 s
(the default), resolution 28800 s. Rules: DEFAULT_RULES (inactivity 86400 s, at-risk margin
600 s) unless said otherwise. Times are offsets from T0.

FIRST_RESPONSE_BUCKETS (also next response): 30, 60, 120, 300, 600, 900, 1800, 3600,
7200, ... -> index of the first bound >= the value. RESOLUTION_BUCKETS: 300, 900, 1800,
3600, ... POSTS_BUCKETS: 1, 2, 3, 4, 5, 6, 8, ... (index n - 1 for n <= 6).
"""

from __future__ import annotations

import itertools
from typing import Any

from processor.domain.conversation import (
    AT_RISK,
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
from processor.domain.timeline import walk
from tests.series_form import Stored as Contributions
from tests.series_form import contributions, difference
from tests.unit.domain.test_conversation import (
    ANSWERED,
    FRT,
    FRT_COUNT,
    FRT_SUM,
    NARROW,
    OPENED,
    T0,
    AnyEvent,
    Key,
    L,
    event,
    histogram,
    mention,
    new_state,
    open_state,
    policies,
    reply,
    resolution_effort,
    resolution_sla,
    resolved,
    run,
    sla,
    team_frt,
    team_resolution,
)

REOPENS = ("reopens_total", L, None)
FCR = ("first_contact_resolutions_total", L, None)


def next_sla(outcome: str, at: float, priority: str = "normal") -> Key:
    return ("next_response_sla_total", (*L, priority, outcome), at)


def only(out: Contributions, *prefixes: str) -> Contributions:
    return {key: value for key, value in out.items() if key[0].startswith(prefixes)}


def open_series(state: ConversationState) -> Contributions:
    return only(contributions(state), "open_conversations")


def redirection(offset: float, to: str = "dm", **fields: Any) -> AnyEvent:
    return event("redirection", offset, to_channel=to, **fields)


def survey(offset: float, kind: str, score: int, **fields: Any) -> AnyEvent:
    return event("survey", offset, kind=kind, score=score, **fields)


# -- next response time and its SLA ---------------------------------------------------------


def test_next_response_met() -> None:
    # Answered at 100; follow-up at 1000 starts a wait (deadline 1000 + 3600 = 4600);
    # reply at 2000: next response 1000 s (900 < 1000 <= 1800 -> index 6), met at 2000.
    state = run([mention(0), reply(100), mention(1000), reply(2000)])
    assert walk(state).next_responses == [(T0 + 1000, T0 + 2000)]
    out = contributions(state)
    assert only(out, "next_response") == {
        **histogram("next_response_seconds", (), 6, 1000.0),
        next_sla("met", T0 + 2000): 1.0,
    }
    assert out[ANSWERED] == 2.0  # both customer posts were followed by a human reply
    assert open_series(state) == {open_state(AWAITING_CUSTOMER): 1.0}


def test_next_response_late() -> None:
    # Reply at 5000: waited 4000 s (3600 < 4000 <= 7200 -> index 8); past the deadline
    # 4600: breached, counted at the deadline.
    state = run([mention(0), reply(100), mention(1000), reply(5000)])
    assert only(contributions(state), "next_response") == {
        **histogram("next_response_seconds", (), 8, 4000.0),
        next_sla("breached", T0 + 4600): 1.0,
    }


def test_next_response_breached_by_silence() -> None:
    # Wait from 1000, deadline 4600, at risk from 4600 - 600 = 4000.
    state = run([mention(0), reply(100), mention(1000)])
    assert only(contributions(state), "next_response") == {}
    assert open_series(state) == {open_state(AWAITING_NEXT_RESPONSE): 1.0}
    assert next_check(state) == T0 + 4000
    assert advance_clock(state, T0 + 4000)
    assert open_series(state) == {open_state(AT_RISK): 1.0}
    assert only(contributions(state), "next_response") == {}
    assert next_check(state) == T0 + 4600
    before = contributions(state)
    assert advance_clock(state, T0 + 4600)
    assert difference(before, contributions(state)) == {
        next_sla("breached", T0 + 4600): 1.0,
        open_state(AT_RISK): -1.0,
        open_state(BREACHED): 1.0,
    }
    # a late reply keeps the breach and observes the time: 5600 - 1000 = 4600 -> index 8
    apply_event(state, reply(5600), policies())
    out = contributions(state)
    assert only(out, "next_response") == {
        **histogram("next_response_seconds", (), 8, 4600.0),
        next_sla("breached", T0 + 4600): 1.0,
    }
    assert open_series(state) == {open_state(AWAITING_CUSTOMER): 1.0}


def test_follow_up_burst_starts_one_clock_at_the_first_post() -> None:
    # Three follow-ups at 1000, 1200, 1500 then a reply at 2000: one wait from 1000
    # (1000 s, index 6), one SLA outcome (met at 2000); all four customer posts answered.
    state = run([mention(0), reply(100), mention(1000), mention(1200), mention(1500),
                 reply(2000)])  # fmt: skip
    assert walk(state).next_responses == [(T0 + 1000, T0 + 2000)]
    out = contributions(state)
    assert only(out, "next_response") == {
        **histogram("next_response_seconds", (), 6, 1000.0),
        next_sla("met", T0 + 2000): 1.0,
    }
    assert out[ANSWERED] == 4.0


def test_bot_reply_does_not_end_a_next_response_wait() -> None:
    state = run([mention(0), reply(100), mention(1000), reply(1100, automated=True)])
    assert walk(state).next_responses == [(T0 + 1000, None)]
    assert open_series(state) == {open_state(AWAITING_NEXT_RESPONSE): 1.0}


# -- response rate --------------------------------------------------------------------------


def test_mentions_answered() -> None:
    # Two posts before the first human reply (both answered), one after it (not yet).
    state = run([mention(0), mention(50), reply(100), mention(1000)])
    assert contributions(state)[ANSWERED] == 2.0
    # a bot reply answers nothing
    assert ANSWERED not in contributions(run([mention(0), reply(10, automated=True)]))
    # the later reply answers the third post
    apply_event(state, reply(1100), policies())
    assert contributions(state)[ANSWERED] == 3.0


# -- explicit resolution and reopen ---------------------------------------------------------


def test_explicit_resolution_then_reopen() -> None:
    state = run([mention(0), reply(100, resolves=True)])
    assert walk(state).resolutions == [(T0 + 100, "explicit")]
    assert open_series(state) == {}
    assert contributions(state)[FCR] == 1.0
    before = contributions(state)
    # the customer writes again at 500: reopened, a next-response wait starts at 500
    apply_event(state, mention(500), policies())
    timeline = walk(state)
    assert timeline.reopens == 1 and timeline.open_now
    assert difference(before, contributions(state)) == {
        REOPENS: 1.0,
        FCR: -1.0,  # a reopened conversation was not solved on first contact
        open_state(AWAITING_NEXT_RESPONSE): 1.0,
    }
    # solved again at 700: a second explicit resolution; next response 200 s (index 3)
    apply_event(state, reply(700, resolves=True), policies())
    out = contributions(state)
    assert only(out, "resolutions_total") == {resolved(T0 + 100): 1.0, resolved(T0 + 700): 1.0}
    assert out[REOPENS] == 1.0
    assert out[next_sla("met", T0 + 700)] == 1.0
    assert out[("next_response_seconds_bucket", (*L, "3"), None)] == 1.0
    assert open_series(state) == {}
    # the first resolution stays the one measured: 100 s (index 0), SLA met at 100
    assert out[("resolution_seconds_sum", (*L, "false"), None)] == 100.0
    assert only(out, "resolution_sla") == {resolution_sla("met", T0 + 100): 1.0}


# -- resolution by inactivity ---------------------------------------------------------------


def test_resolution_by_inactivity() -> None:
    # Last human reply at 100, no customer post: resolved at 100 once swept >= 100 + 86400.
    state = run([mention(0), reply(100)])
    assert advance_clock(state, T0 + 86499) is True  # the resolution deadline 28800 passed
    assert walk(state).resolutions == []
    assert open_series(state) == {open_state(AWAITING_CUSTOMER): 1.0}
    before = contributions(state)
    assert advance_clock(state, T0 + 86500)
    assert walk(state).resolutions == [(T0 + 100, "inactivity")]
    # Resolved at 100: 100 s (index 0), 1 customer post, 1 brand post, 1 channel; one
    # human reply, no redirection, no reopen: first contact resolution. SLA met at 100.
    # Credited to the team of the last human reply (at 100, no team): "unassigned".
    assert difference(before, contributions(state)) == {
        resolved(T0 + 100, "inactivity"): 1.0,
        **resolution_effort(100.0, 0, customer_posts=1, brand_posts=1),
        **team_resolution("unassigned", 0, 100.0),
        FCR: 1.0,
        resolution_sla("met", T0 + 100): 1.0,
        open_state(AWAITING_CUSTOMER): -1.0,
    }
    # a customer post after the gap reopens it; the inferred resolution stays
    apply_event(state, mention(90000), policies())
    timeline = walk(state)
    assert timeline.resolutions == [(T0 + 100, "inactivity")]
    assert timeline.reopens == 1 and timeline.open_now
    out = contributions(state)
    assert out[REOPENS] == 1.0 and FCR not in out
    # next-response wait from 90000: deadline 93600, at risk from 93000; swept 86500
    assert open_series(state) == {open_state(AWAITING_NEXT_RESPONSE): 1.0}


def test_customer_post_after_the_gap_resolves_without_a_sweep() -> None:
    # The gap 100 -> 86500 is in the posts themselves: resolved at 100 and reopened,
    # whatever the clock.
    state = run([mention(0), reply(100), mention(86500)])
    timeline = walk(state)
    assert timeline.resolutions == [(T0 + 100, "inactivity")]
    assert timeline.reopens == 1
    # 86499 s is not enough
    short = run([mention(0), reply(100), mention(86499)])
    assert walk(short).resolutions == [] and walk(short).reopens == 0


def test_customer_post_before_the_gap_cancels_the_inference() -> None:
    state = run([mention(0), reply(100), mention(50000)])
    advance_clock(state, T0 + 200000)
    assert walk(state).resolutions == []
    out = contributions(state)
    assert only(out, "resolutions_total") == {}
    # never resolved: resolution SLA breached at 28800; the follow-up at 50000 waited
    # past its deadline 53600: next-response breach, backlog breached
    assert only(out, "resolution_sla") == {resolution_sla("breached", T0 + 28800): 1.0}
    assert out[next_sla("breached", T0 + 53600)] == 1.0
    assert open_series(state) == {open_state(BREACHED): 1.0}


def test_late_customer_post_withdraws_an_inferred_resolution() -> None:
    # Event-time truth: swept past 100 + 86400 (resolved by inactivity at 100), then a
    # customer post stamped 50000 arrives: the customer was not silent, no resolution.
    state = run([mention(0), reply(100)])
    advance_clock(state, T0 + 86500)
    before = contributions(state)
    apply_event(state, mention(50000), policies())
    delta = difference(before, contributions(state))
    assert delta[resolved(T0 + 100, "inactivity")] == -1.0
    assert delta[FCR] == -1.0
    assert delta[resolution_sla("met", T0 + 100)] == -1.0
    assert delta[resolution_sla("breached", T0 + 28800)] == 1.0
    assert delta[next_sla("breached", T0 + 53600)] == 1.0


def test_inactivity_disabled() -> None:
    state = run([mention(0), reply(100)], rules=NARROW)
    advance_clock(state, T0 + 10**7)
    assert walk(state).resolutions == []
    assert open_series(state) == {open_state(AWAITING_CUSTOMER): 1.0}


# -- resolution SLA -------------------------------------------------------------------------


def test_resolution_sla_met_late_and_silent() -> None:
    met = run([mention(0), reply(100, resolves=True)])
    assert only(contributions(met), "resolution_sla") == {resolution_sla("met", T0 + 100): 1.0}
    # resolved at 30000 > 28800: breached at the deadline. RESOLUTION_BUCKETS 300, 900,
    # 1800, 3600, 7200, 14400, 28800, 43200: 28800 < 30000 <= 43200 -> index 7
    late = run([mention(0), reply(30000, resolves=True)])
    out = contributions(late)
    assert only(out, "resolution_sla") == {resolution_sla("breached", T0 + 28800): 1.0}
    assert out[("resolution_seconds_bucket", (*L, "false", "7"), None)] == 1.0
    # never answered, never resolved: breached by silence at 28800
    silent = run([mention(0)], rules=NARROW)
    assert next_check(silent) == T0 + 900
    advance_clock(silent, T0 + 900)
    assert next_check(silent) == T0 + 28800
    assert not advance_clock(silent, T0 + 28799)
    assert only(contributions(silent), "resolution_sla") == {}
    assert advance_clock(silent, T0 + 28800)
    assert only(contributions(silent), "resolution_sla") == {
        resolution_sla("breached", T0 + 28800): 1.0
    }


def test_resolution_sla_pending_inference() -> None:
    # Awaiting the customer since 100 <= deadline 28800: no breach at the deadline; the
    # inference (at 86500) or a customer post decides.
    state = run([mention(0), reply(100)])
    advance_clock(state, T0 + 30000)
    assert only(contributions(state), "resolution_sla") == {}
    assert next_check(state) == T0 + 86500
    inferred = ConversationState.from_json(state.to_json())
    advance_clock(inferred, T0 + 86500)
    assert only(contributions(inferred), "resolution_sla") == {resolution_sla("met", T0 + 100): 1.0}
    # a customer post at 40000 cancels the inference: breached at the deadline
    apply_event(state, mention(40000), policies())
    assert only(contributions(state), "resolution_sla") == {
        resolution_sla("breached", T0 + 28800): 1.0
    }


def test_resolution_sla_last_reply_after_the_deadline() -> None:
    # The last human reply (30000) is after the deadline: an inference could only resolve
    # late, so the silent breach is counted at 28800 once swept.
    state = run([mention(0), reply(30000)])
    advance_clock(state, T0 + 30001)
    assert only(contributions(state), "resolution_sla") == {
        resolution_sla("breached", T0 + 28800): 1.0
    }


# -- First Social Contact Resolution --------------------------------------------------------


def test_first_contact_resolution() -> None:
    assert contributions(run([mention(0), reply(100, resolves=True)]))[FCR] == 1.0
    # with a redirection before the resolution: not first contact; redirected=true,
    # 2 channels (twitter + dm)
    redirected = contributions(run([mention(0), redirection(50), reply(100, resolves=True)]))
    assert FCR not in redirected
    assert redirected[("resolution_seconds_count", (*L, "true"), None)] == 1.0
    assert redirected[("customer_effort_channels_sum", L, None)] == 2.0
    # two human replies
    two = contributions(run([mention(0), reply(100), reply(200, resolves=True)]))
    assert FCR not in two
    # bot replies do not count against it: one human reply + bots
    with_bots = run([mention(0), reply(10, automated=True), reply(100, resolves=True)])
    assert contributions(with_bots)[FCR] == 1.0
    # reopened later: withdrawn
    state = run([mention(0), reply(100, resolves=True)])
    before = contributions(state)
    apply_event(state, mention(5000), policies())
    assert difference(before, contributions(state))[FCR] == -1.0


# -- posts to resolution and customer effort ------------------------------------------------


def test_posts_to_resolution_by_side() -> None:
    # Until the resolution at 150: customer posts 0, 50 (2 -> index 1); brand posts bot 10,
    # human 100, bot 150 (3 -> index 2). The posts at 500 and 600 are after it.
    state = run([
        mention(0), reply(10, automated=True), mention(50), reply(100),
        reply(150, automated=True, resolves=True), mention(500), reply(600),
    ])  # fmt: skip
    assert only(contributions(state), "posts_to_resolution") == {
        **histogram("posts_to_resolution", ("customer",), 1, 2.0),
        **histogram("posts_to_resolution", ("brand",), 2, 3.0),
    }


def test_customer_effort_channels() -> None:
    # Redirections before the resolution at 100: dm, dm, email -> 1 + 2 = 3 channels
    # (index 2); the voice redirection at 200 is after it.
    state = run([
        mention(0), redirection(10, "dm"), redirection(20, "dm"), redirection(30, "email"),
        reply(100, resolves=True), redirection(200, "voice"),
    ])  # fmt: skip
    out = contributions(state)
    assert only(out, "customer_effort_channels") == histogram(
        "customer_effort_channels", (), 2, 3.0
    )
    assert out[("resolution_seconds_count", (*L, "true"), None)] == 1.0


# -- backlog states over time ---------------------------------------------------------------


def test_backlog_first_response_over_time() -> None:
    # deadline 900, at risk when 900 - 600 = 300 <= swept < 900
    state = run([mention(0)])
    seen = []
    for now in (299, 300, 899, 900):
        advance_clock(state, T0 + now)
        seen.append(open_series(state))
    assert seen == [
        {open_state(AWAITING_FIRST_RESPONSE): 1.0},
        {open_state(AT_RISK): 1.0},
        {open_state(AT_RISK): 1.0},
        {open_state(BREACHED): 1.0},
    ]
    apply_event(state, reply(1000), policies())
    assert open_series(state) == {open_state(AWAITING_CUSTOMER): 1.0}
    apply_event(state, reply(1100, resolves=True), policies())
    assert open_series(state) == {}


def test_backlog_next_response_over_time() -> None:
    # follow-up at 1000: deadline 4600, at risk from 4000
    state = run([mention(0), reply(100)])
    assert open_series(state) == {open_state(AWAITING_CUSTOMER): 1.0}
    apply_event(state, mention(1000), policies())
    seen = []
    for now in (3999, 4000, 4599, 4600):
        advance_clock(state, T0 + now)
        seen.append(open_series(state))
    assert seen == [
        {open_state(AWAITING_NEXT_RESPONSE): 1.0},
        {open_state(AT_RISK): 1.0},
        {open_state(AT_RISK): 1.0},
        {open_state(BREACHED): 1.0},
    ]
    apply_event(state, reply(4700), policies())
    assert open_series(state) == {open_state(AWAITING_CUSTOMER): 1.0}


def test_no_at_risk_without_margin() -> None:
    state = run([mention(0)], rules=NARROW)
    advance_clock(state, T0 + 899)
    assert open_series(state) == {open_state(AWAITING_FIRST_RESPONSE): 1.0}


# -- next_check -----------------------------------------------------------------------------


def checks(state: ConversationState) -> list[float | None]:
    """next_check, then advance the clock to it, until there is none (offsets from T0)."""
    seen: list[float | None] = []
    while (due := next_check(state)) is not None:
        seen.append(due - T0)
        assert advance_clock(state, due)
    seen.append(None)
    return seen


def test_next_check_values() -> None:
    assert next_check(new_state()) is None
    assert next_check(run([reply(0)])) is None
    # awaiting the first response: at risk 300, deadline 900, resolution deadline 28800
    assert checks(run([mention(0)])) == [300, 900, 28800, None]
    assert checks(run([mention(0)], rules=NARROW)) == [900, 28800, None]
    # awaiting the customer after a reply at 100: resolution deadline 28800 (pending),
    # inactivity at 86500, then resolved: nothing more
    assert checks(run([mention(0), reply(100)])) == [28800, 86500, None]
    assert checks(run([mention(0), reply(100)], rules=NARROW)) == [28800, None]
    # awaiting a next response from 1000: 4000, 4600, then the resolution deadline
    assert checks(run([mention(0), reply(100), mention(1000)])) == [4000, 4600, 28800, None]
    # resolved explicitly in time
    assert checks(run([mention(0), reply(100, resolves=True)])) == [None]
    # reopened at 500 after a resolution at 100: the next-response wait only
    assert checks(run([mention(0), reply(100, resolves=True), mention(500)])) == [3500, 4100, None]


def test_next_check_for_a_first_response_clock_stopped_after_its_deadline() -> None:
    # Regression: next_check() once returned None for a resolved conversation, so this
    # breach was never swept.
    # deadline 900; a bot resolves at 1000 with no human reply; clock not yet at 900
    state = run([mention(0), reply(1000, automated=True, resolves=True)])
    before = contributions(state)
    assert next_check(state) == T0 + 900
    assert advance_clock(state, T0 + 900)
    assert difference(before, contributions(state)) == {sla("breached", T0 + 900): 1.0}


def test_next_check_for_a_next_response_wait_stopped_after_its_deadline() -> None:
    # Regression: the wait's deadline was not scheduled once the conversation resolved.
    # wait from 1000 (deadline 4600); a bot resolves at 5000
    state = run([mention(0), reply(100), mention(1000),
                 reply(5000, automated=True, resolves=True)])  # fmt: skip
    before = contributions(state)
    assert next_check(state) == T0 + 4600
    assert advance_clock(state, T0 + 4600)
    assert difference(before, contributions(state)) == {next_sla("breached", T0 + 4600): 1.0}


def test_no_check_for_a_clock_stopped_before_its_deadline() -> None:
    state = run([mention(0), reply(60, automated=True, resolves=True)])
    assert next_check(state) is None


# -- CSAT by redirection --------------------------------------------------------------------


def test_csat_by_redirected() -> None:
    plain = run([mention(0), survey(100, "csat", 2)])
    assert only(contributions(plain), "csat_") == {
        ("csat_responses_total", (*L, "false"), None): 1.0,
        ("csat_score_total", (*L, "false"), None): 2.0,
        ("csat_followup_needed_total", (*L, "false"), None): 1.0,
    }
    # any redirection, even after the survey, labels every CSAT answer redirected=true
    moved = run([mention(0), survey(100, "csat", 5), survey(200, "csat", 4),
                 redirection(300, "email")])  # fmt: skip
    assert only(contributions(moved), "csat_") == {
        ("csat_responses_total", (*L, "true"), None): 2.0,
        ("csat_score_total", (*L, "true"), None): 9.0,
        ("csat_satisfied_total", (*L, "true"), None): 2.0,
    }


# -- order independence ---------------------------------------------------------------------

INACTIVITY_1H = ConversationRules(inactivity_seconds=3600, at_risk_margin_seconds=600)
SEVEN = [
    mention(0, event_id="m1"),  # opens
    reply(100, event_id="r1"),  # first response 100 s
    mention(1000, event_id="m2"),  # follow-up: wait from 1000
    reply(1500, resolves=True, event_id="r2"),  # next response 500 s; resolves
    mention(2000, event_id="m3"),  # reopen 1; wait from 2000
    reply(2300, event_id="r3"),  # next response 300 s
    mention(10000, event_id="m4"),  # gap 7700 >= 3600: resolved at 2300, reopen 2
]


def test_every_permutation_with_follow_up_reopen_and_gap() -> None:
    # Inactivity 3600 s, margin 600 s; a sweep to +6000 anywhere in the order (after r3 it
    # already infers the resolution at 2300: 6000 - 2300 >= 3600), then advance to +20000.
    # Walk: c0, h100, c1000, h1500, resolve1500, c2000, h2300, c10000.
    # - FRT 100 (index 2), met at 100. Answered: c0, c1000, c2000 = 3.
    # - next responses: 1000->1500 (500 s, index 4) met at 1500; 2000->2300 (300 s,
    #   index 3) met at 2300; 10000->none: deadline 13600 <= 20000: breached at 13600.
    # - resolutions: explicit at 1500, inactivity at 2300; reopens 2 (c2000, c10000).
    # - first resolution at 1500: 1500 s (index 2), customer posts c0, c1000 = 2, brand
    #   posts h100, h1500 = 2, 1 channel; 2 human replies: no first contact resolution.
    #   Resolution SLA met at 1500.
    # - open, waiting for a next response past its deadline: breached.
    # - teams: no reply has a team, so the first response (100 s, index 2) and the first
    #   resolution (1500 s: 900 < 1500 <= 1800, RESOLUTION_BUCKETS index 2) are credited to
    #   "unassigned".
    expected = {
        OPENED: 1.0,
        FRT(2): 1.0,
        FRT_SUM: 100.0,
        FRT_COUNT: 1.0,
        sla("met", T0 + 100): 1.0,
        ("next_response_seconds_bucket", (*L, "4"), None): 1.0,
        ("next_response_seconds_bucket", (*L, "3"), None): 1.0,
        ("next_response_seconds_sum", L, None): 800.0,
        ("next_response_seconds_count", L, None): 2.0,
        next_sla("met", T0 + 1500): 1.0,
        next_sla("met", T0 + 2300): 1.0,
        next_sla("breached", T0 + 13600): 1.0,
        ANSWERED: 3.0,
        resolved(T0 + 1500): 1.0,
        resolved(T0 + 2300, "inactivity"): 1.0,
        REOPENS: 2.0,
        **resolution_effort(1500.0, 2, customer_posts=2, brand_posts=2),
        **team_frt("unassigned", 2, 100.0),
        **team_resolution("unassigned", 2, 1500.0),
        resolution_sla("met", T0 + 1500): 1.0,
        open_state(BREACHED): 1.0,
    }
    cache = policies()
    count = 0
    for order in itertools.permutations([*SEVEN, "sweep"]):
        state = new_state()
        for item in order:
            if item == "sweep":
                advance_clock(state, T0 + 6000)
            else:
                assert not isinstance(item, str)
                apply_event(state, item, cache, INACTIVITY_1H)
        advance_clock(state, T0 + 20000)
        assert contributions(state) == expected, [getattr(e, "event_id", e) for e in order]
        count += 1
    assert count == 40320  # 8!


def test_default_rules_are_recorded_at_open() -> None:
    state = run([mention(0)])
    assert (state.inactivity_seconds, state.at_risk_margin) == (
        DEFAULT_RULES.inactivity_seconds,
        DEFAULT_RULES.at_risk_margin_seconds,
    )
