"""Team, agent and customer-value metrics (domain/conversation.py, metrics/collectors.py).

By hand, with the helpers and times of test_conversation: T0 = 1509487847, first response
15 min = 900 s, next response 1 h, resolution 8 h. FIRST_RESPONSE_BUCKETS start
30, 60, 120, 300, 600, 900, 1800, 3600; RESOLUTION_BUCKETS start 300, 900, 1800, 3600.
DEFAULT_RULES: inactivity 86400 s, at-risk margin 600 s; NARROW: neither.
"""

from __future__ import annotations

import itertools
from typing import Any

from processor.domain.conversation import (
    AT_RISK,
    AWAITING_CUSTOMER,
    AWAITING_FIRST_RESPONSE,
    BREACHED,
    ConversationRules,
    ConversationState,
    advance_clock,
    apply_event,
)
from processor.domain.quality import SentimentRules
from processor.domain.timeline import walk
from processor.metrics.collectors import build_families
from processor.settings import Settings
from tests.series_form import Stored as Contributions
from tests.series_form import contributions, difference, event_increments, retirement
from tests.unit.domain.test_conversation import (
    NARROW,
    T0,
    L,
    mention,
    open_state,
    policies,
    reply,
    run,
    team_frt,
    team_resolution,
)
from tests.unit.stream.test_pipeline import BRAND, Harness, tkey

TEAMS = ConversationRules(
    teams=frozenset({"tier1", "tier2"}), agents=frozenset({"a-1"}), inactivity_seconds=0,
    at_risk_margin_seconds=0,
)  # fmt: skip
BREACHED_VALUE = ("breached_customer_value_total", L, None)


def value(state_name: str) -> tuple[str, tuple[str, ...], None]:
    return ("open_customer_value", (*L, state_name), None)


def only(out: Contributions, *prefixes: str) -> Contributions:
    return {key: amount for key, amount in out.items() if key[0].startswith(prefixes)}


def team_series(out: Contributions) -> Contributions:
    return only(out, "team_")


def value_series(out: Contributions) -> Contributions:
    return only(out, "open_customer_value", "breached_customer_value")


# -- labels ---------------------------------------------------------------------------------


def test_team_label_without_allowlist_is_the_team_as_given() -> None:
    rules = ConversationRules()
    assert rules.teams is None
    assert rules.team_label("Tier 1") == "Tier 1"
    assert rules.team_label("anything-else") == "anything-else"
    assert rules.team_label(None) == "unassigned"


def test_team_label_with_allowlist() -> None:
    assert TEAMS.team_label("tier1") == "tier1"
    assert TEAMS.team_label("tier2") == "tier2"
    assert TEAMS.team_label("Tier1") == "other"  # case matters: not in the allowlist
    assert TEAMS.team_label("billing") == "other"
    assert TEAMS.team_label(None) == "unassigned"  # no team is not "other"
    # An empty allowlist sends every named team to "other".
    assert ConversationRules(teams=frozenset()).team_label("tier1") == "other"


def test_reply_teams_are_recorded_with_their_labels() -> None:
    state = run(
        [mention(0), reply(100, team="tier1"), reply(200, team="billing"), reply(300),
         reply(400, team="tier2", automated=True)],
        rules=TEAMS,
    )  # fmt: skip
    # human replies only, labelled when applied: tier1, billing -> other, none -> unassigned
    humans = [mark for mark in state.tail if mark[1].startswith("h")]
    assert humans == [(T0 + 100, "htier1"), (T0 + 200, "hother"), (T0 + 300, "hunassigned")]


# -- event increments -----------------------------------------------------------------------


def test_team_and_agent_replies_total() -> None:
    human = ("replies_total", (*L, "human"), None)
    # listed agent of an allowed team: the team series and the agent series
    assert event_increments(reply(42, team="tier1", agent_id="a-1"), TEAMS) == {
        human: 1.0,
        ("team_replies_total", (*L, "tier1"), None): 1.0,
        ("agent_replies_total", (*L, "a-1"), None): 1.0,
    }
    # agent not listed: no agent series at all; team outside the allowlist: "other"
    assert event_increments(reply(42, team="billing", agent_id="a-2"), TEAMS) == {
        human: 1.0,
        ("team_replies_total", (*L, "other"), None): 1.0,
    }
    # no team, no agent: "unassigned"
    assert event_increments(reply(42), TEAMS) == {
        human: 1.0,
        ("team_replies_total", (*L, "unassigned"), None): 1.0,
    }
    # a bot reply counts for no team and no agent, even a listed one
    assert event_increments(reply(42, team="tier1", agent_id="a-1", automated=True), TEAMS) == {
        ("replies_total", (*L, "automated"), None): 1.0,
    }
    # the default rules list no agents and allow every team
    assert event_increments(reply(42, team="billing", agent_id="a-1")) == {
        human: 1.0,
        ("team_replies_total", (*L, "billing"), None): 1.0,
    }


def test_event_increments_take_the_sentiment_rules_from_the_conversation_rules() -> None:
    # -0.3 is neutral under thresholds of +-0.5, negative under the default -0.05.
    wide = ConversationRules(sentiment=SentimentRules(negative_below=-0.5, positive_above=0.5))
    key = ("mentions_by_sentiment_total", (*L, "neutral"), None)
    assert event_increments(mention(42, sentiment=-0.3), wide)[key] == 1.0
    assert key not in event_increments(mention(42, sentiment=-0.3))


# -- first response and resolution by team --------------------------------------------------


def test_first_response_credited_to_the_first_human_reply_in_any_order() -> None:
    # tier1 answers at 200 (FRT 200: 120 < 200 <= 300 -> index 3), tier2 replies at 500,
    # a bot at 50 (no first response). Only tier1 gets the observation.
    events = [mention(0), reply(50, automated=True, team="tier2"), reply(200, team="tier1"),
              reply(500, team="tier2")]  # fmt: skip
    for order in itertools.permutations(events):
        state = run(list(order), rules=TEAMS)
        assert team_series(contributions(state)) == team_frt("tier1", 3, 200.0), order


def test_first_response_ignores_a_reply_before_the_opening_mention() -> None:
    # A tier2 reply stamped before the opening post is not a response to it: tier1's
    # reply at 700 is the first response (700: 600 < 700 <= 900 -> index 5).
    state = run([reply(-100, team="tier2"), mention(0), reply(700, team="tier1")], rules=TEAMS)
    assert team_series(contributions(state)) == team_frt("tier1", 5, 700.0)


def test_resolution_credited_to_the_resolving_reply_team() -> None:
    # tier1 answers at 100 (index 2), tier2 resolves at 700 (resolution 700 s:
    # 300 < 700 <= 900 -> index 1).
    state = run([mention(0), reply(100, team="tier1"), reply(700, team="tier2", resolves=True)],
                rules=TEAMS)  # fmt: skip
    assert team_series(contributions(state)) == {
        **team_frt("tier1", 2, 100.0),
        **team_resolution("tier2", 1, 700.0),
    }


def test_bot_resolution_credited_to_the_last_human_reply_before_it() -> None:
    # tier1 at 100, tier2 at 200, a bot resolves at 400 (index 1: 300 < 400 <= 900); a
    # tier1 reply at 500 comes after the resolution and changes nothing.
    state = run(
        [mention(0), reply(100, team="tier1"), reply(200, team="tier2"),
         reply(400, automated=True, resolves=True), reply(500, team="tier1")],
        rules=TEAMS,
    )  # fmt: skip
    assert only(contributions(state), "team_resolution") == team_resolution("tier2", 1, 400.0)


def test_inactivity_resolution_credited_to_the_last_human_reply_team() -> None:
    # Default rules (inactivity 86400 s): tier1 at 100 (first response, index 2), tier2 at
    # 300; the customer stays silent: resolved at 300 once swept to 300 + 86400 = 86700.
    # Resolution 300 s -> index 0 (<= 300), credited to tier2.
    rules = ConversationRules(teams=frozenset({"tier1", "tier2"}))
    state = run([mention(0), reply(100, team="tier1"), reply(300, team="tier2")], rules=rules)
    advance_clock(state, T0 + 86699)
    assert walk(state).resolutions == []
    before = contributions(state)
    assert team_series(before) == team_frt("tier1", 2, 100.0)
    advance_clock(state, T0 + 86700)
    assert walk(state).resolutions == [(T0 + 300, "inactivity")]
    assert team_series(difference(before, contributions(state))) == team_resolution(
        "tier2", 0, 300.0
    )


def test_resolution_without_any_human_reply_is_unassigned() -> None:
    state = run([mention(0), reply(60, automated=True, resolves=True, team="tier1")], rules=TEAMS)
    # no human reply: no team first response; resolution 60 s -> index 0, "unassigned"
    assert team_series(contributions(state)) == team_resolution("unassigned", 0, 60.0)


# -- customer value -------------------------------------------------------------------------


def test_customer_value_is_the_max_over_mentions_in_any_order() -> None:
    mentions = [mention(0, customer_value=100), mention(60), mention(120, customer_value=250.25),
                mention(180, customer_value=40.5)]  # fmt: skip
    documents = []
    for order in itertools.permutations(mentions):
        state = run(list(order), rules=NARROW)
        assert state.customer_value == 250.25, order
        # NARROW: no margin, never swept: awaiting its first response
        assert value_series(contributions(state)) == {value(AWAITING_FIRST_RESPONSE): 250.25}
        documents.append(state.to_json())
    assert all(document == documents[0] for document in documents)
    assert run([mention(0), mention(60)]).customer_value is None


def test_customer_value_round_trips_with_the_reply_teams() -> None:
    state = run([mention(0, customer_value=99.99), reply(100, team="tier1")], rules=TEAMS)
    back = ConversationState.from_json(state.to_json())
    assert back == state
    assert (back.customer_value, back.tail[1]) == (99.99, (T0 + 100, "htier1"))
    assert contributions(back) == contributions(state)
    # a state stored before this field existed reads with its default
    old = state.to_json()
    del old["customer_value"]
    assert ConversationState.from_json(old).customer_value is None


def test_open_customer_value_moves_with_the_backlog_state() -> None:
    # Default rules (margin 600): deadline 900, at risk from 300.
    cache = policies()
    state = run([mention(0, customer_value=250)])
    assert value_series(contributions(state)) == {value(AWAITING_FIRST_RESPONSE): 250.0}
    before = contributions(state)
    advance_clock(state, T0 + 300)
    assert difference(before, contributions(state)) == {
        open_state(AWAITING_FIRST_RESPONSE): -1.0,
        open_state(AT_RISK): 1.0,
        value(AWAITING_FIRST_RESPONSE): -250.0,
        value(AT_RISK): 250.0,
    }
    before = contributions(state)
    advance_clock(state, T0 + 900)  # breached by silence at the deadline 900
    assert difference(before, contributions(state)) == {
        open_state(AT_RISK): -1.0,
        open_state(BREACHED): 1.0,
        value(AT_RISK): -250.0,
        value(BREACHED): 250.0,
        ("first_response_sla_total", (*L, "normal", "breached"), T0 + 900): 1.0,
        BREACHED_VALUE: 250.0,  # the first-response SLA is now breached
    }
    # answered late at 1000 (FRT 1000: 900 < 1000 <= 1800 -> index 6): no longer waiting
    # for a response, it awaits the customer; the value stays breached (a counter).
    apply_event(state, reply(1000, team="tier1"), cache)
    assert value_series(contributions(state)) == {
        value(AWAITING_CUSTOMER): 250.0,
        BREACHED_VALUE: 250.0,
    }
    # resolved at 1100: no longer open, no value at stake
    apply_event(state, reply(1100, resolves=True), cache)
    assert value_series(contributions(state)) == {BREACHED_VALUE: 250.0}
    assert retirement(state) == {}


def test_answered_in_time_leaves_the_open_value() -> None:
    # NARROW; value 80, answered and resolved at 300 <= 900: met, nothing open, no breach.
    state = run([mention(0, customer_value=80)], rules=NARROW)
    before = contributions(state)
    apply_event(state, reply(300, resolves=True), policies(), NARROW)
    assert value_series(difference(before, contributions(state))) == {
        value(AWAITING_FIRST_RESPONSE): -80.0
    }
    assert value_series(contributions(state)) == {}


def test_retirement_takes_the_open_value_away() -> None:
    state = run([mention(0, customer_value=120.5)], rules=NARROW)
    advance_clock(state, T0 + 900)  # breached by silence
    assert retirement(state) == {
        open_state(BREACHED): -1.0,
        value(BREACHED): -120.5,
    }
    # the counter of breached value stays with the conversation's history
    assert BREACHED_VALUE not in retirement(state)


def test_zero_or_missing_value_gives_no_value_series() -> None:
    for fields in ({"customer_value": 0}, {}):
        state = run([mention(0, **fields)], rules=NARROW)
        advance_clock(state, T0 + 900)
        out = contributions(state)
        assert out[open_state(BREACHED)] == 1.0
        assert value_series(out) == {}, fields


def test_breached_customer_value_breached_vs_met() -> None:
    late = run([mention(0, customer_value=300), reply(1200)], rules=NARROW)  # 1200 > 900
    assert contributions(late)[BREACHED_VALUE] == 300.0
    in_time = run([mention(0, customer_value=300), reply(900)], rules=NARROW)  # 900 <= 900
    assert BREACHED_VALUE not in contributions(in_time)
    # a higher value from a later mention raises the breached value (max, not a sum)
    raised = run([mention(0, customer_value=300), reply(1200), mention(1300, customer_value=500)],
                 rules=NARROW)  # fmt: skip
    assert contributions(raised)[BREACHED_VALUE] == 500.0
    # a next-response breach alone is not a first-response breach: no breached value
    # (first response met at 100; follow-up at 200 never answered, swept past 200 + 3600)
    follow_up = run([mention(0, customer_value=300), reply(100), mention(200)], rules=NARROW)
    advance_clock(follow_up, T0 + 4000)
    out = contributions(follow_up)
    assert out[("next_response_sla_total", (*L, "normal", "breached"), T0 + 3800)] == 1.0
    assert BREACHED_VALUE not in out


def test_breached_value_withdrawn_by_a_reply_stamped_before_the_deadline() -> None:
    # Swept to 1000 (breached by silence), then a reply stamped 800 arrives: met at 800.
    state = run([mention(0, customer_value=75)], rules=NARROW)
    advance_clock(state, T0 + 1000)
    before = contributions(state)
    apply_event(state, reply(800, team="tier1"), policies(), NARROW)
    assert value_series(difference(before, contributions(state))) == {
        BREACHED_VALUE: -75.0,
        value(BREACHED): -75.0,
        value(AWAITING_CUSTOMER): 75.0,
    }


# -- through the pipeline and the exporter --------------------------------------------------


def samples(families: list[Any], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in families
        for sample in family.to_metric().samples
        if sample.name == name
    }


STAFFED = {"clock": "event", "allowed_lateness_seconds": 60, "partitions": 4,
           "team_staffing": {"tier1": {"hourly_cost": 40, "agents": 5}}}  # fmt: skip


def test_staffing_cost_exported_only_with_partition_0() -> None:
    h = Harness(settings=Settings.model_validate(STAFFED))
    name = "socialcare_team_staffing_cost_per_hour"
    # 40 per agent hour x 5 agents = 200
    assert samples(build_families(h.pipeline.view, {0}), name) == {(("team", "tier1"),): 200.0}
    assert samples(build_families(h.pipeline.view, {0, 3}), name) == {(("team", "tier1"),): 200.0}
    assert samples(build_families(h.pipeline.view, {1, 2, 3}), name) == {}
    assert samples(build_families(h.pipeline.view, set()), name) == {}


def test_staffing_cost_of_several_teams_and_none_configured() -> None:
    settings = Settings.model_validate(
        {**STAFFED, "team_staffing": {"tier2": {"hourly_cost": 32.5, "agents": 2.5},
                                      "tier1": {"hourly_cost": 40, "agents": 0}}}
    )  # fmt: skip
    families = build_families(Harness(settings=settings).pipeline.view, {0})
    # tier2: 32.5 x 2.5 = 81.25; tier1: 40 x 0 = 0 (configured, so exported)
    assert samples(families, "socialcare_team_staffing_cost_per_hour") == {
        (("team", "tier1"),): 0.0,
        (("team", "tier2"),): 81.25,
    }
    unstaffed = Settings.model_validate({**STAFFED, "team_staffing": {}})
    names = {
        family.name for family in build_families(Harness(settings=unstaffed).pipeline.view, {0})
    }
    assert "socialcare_team_staffing_cost_per_hour" not in names


async def test_pipeline_totals_and_export_of_team_and_value_series() -> None:
    # Settings: allowlist tier1, agent a-1 labelled; event clock, no inactivity, no margin.
    # c1 (value 500): opened @0, tier1 agent a-1 answers @120 (FRT 120 -> index 2, met),
    #   billing agent a-2 resolves @600 (resolution 600 s -> index 1, team "other").
    # c2 (value 70.5): opened @200, nothing else; the reply of c1 @600 moves the watermark
    #   to 540 < 200 + 900: still awaiting its first response.
    settings = Settings.model_validate(
        {**STAFFED, "inactivity_resolution_seconds": 0, "at_risk_margin_seconds": 0,
         "teams": ["tier1"], "agent_labels": ["a-1"]}
    )  # fmt: skip
    h = Harness(settings=settings)
    await h.send("mention", "c1", 0, customer_value=500)
    await h.send("reply", "c1", 120, team="tier1", agent_id="a-1")
    await h.send("mention", "c2", 200, customer_value=70.5)
    await h.send("reply", "c1", 600, team="billing", agent_id="a-2", resolves=True)
    totals = h.totals[tkey("twitter")]
    assert {series: amount for series, amount in totals.items()
            if series.startswith(("team_", "agent_", "open_customer", "breached_customer"))} == {
        "team_replies_total|tier1": 1.0,
        "team_replies_total|other": 1.0,
        "agent_replies_total|a-1": 1.0,  # a-2 is not listed: no series
        "team_first_response_seconds_bucket|tier1|2": 1.0,
        "team_first_response_seconds_sum|tier1": 120.0,
        "team_first_response_seconds_count|tier1": 1.0,
        "team_resolution_seconds_bucket|other|1": 1.0,
        "team_resolution_seconds_sum|other": 600.0,
        "team_resolution_seconds_count|other": 1.0,
        "open_customer_value|awaiting_first_response": 70.5,  # c2; c1's 500 went back out
    }  # fmt: skip
    families = build_families(h.pipeline.view, {1})  # the conversations are on partition 1
    brand = (("brand", BRAND), ("channel", "twitter"))
    # Counters and histograms name their partition (a rebalance moves a series whole);
    # gauges are summed over the worker's partitions.
    assert samples(families, "socialcare_team_replies_total") == {
        (*brand, ("partition", "1"), ("team", "other")): 1.0,
        (*brand, ("partition", "1"), ("team", "tier1")): 1.0,
    }
    assert samples(families, "socialcare_agent_replies_total") == {
        (("agent", "a-1"), *brand, ("partition", "1")): 1.0
    }
    assert samples(families, "socialcare_open_customer_value") == {
        (*brand, ("state", "awaiting_first_response")): 70.5
    }
    assert samples(families, "socialcare_team_first_response_seconds_count") == {
        (*brand, ("partition", "1"), ("team", "tier1")): 1.0
    }
    assert samples(families, "socialcare_team_staffing_cost_per_hour") == {}  # not partition 0


# -- known bug ------------------------------------------------------------------------------


async def test_open_customer_value_series_goes_when_every_conversation_left() -> None:
    h = Harness()  # EVENT_CLOCK: no margin, no inactivity; first response 900 s
    await h.send("mention", "c1", 0, customer_value=0.1)
    await h.send("mention", "c2", 10, customer_value=0.2)
    assert h.totals[tkey("twitter")]["open_customer_value|awaiting_first_response"] == 0.3
    await h.send("reply", "c1", 20, resolves=True)
    await h.send("reply", "c2", 30, resolves=True)
    # both resolved: nothing open, no value at stake
    assert "open_conversations|awaiting_first_response" not in h.totals[tkey("twitter")]
    assert "open_customer_value|awaiting_first_response" not in h.totals[tkey("twitter")]
