"""The churn signal: the phrase matcher, and the counts a conversation stands for."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from processor.domain.churn import DEFAULT_CHURN_PHRASES, ChurnPhrases, states_leaving
from processor.domain.conversation import ConversationRules, apply_event
from tests.series_form import contributions, stored
from tests.unit.domain.test_conversation import L, event, mention, new_state, policies, reply, run

DEFAULT = ChurnPhrases(DEFAULT_CHURN_PHRASES)
RULES = ConversationRules(churn_phrases=DEFAULT)
CHURN = ("churn_risk_conversations_total", L, None)
RESOLVED = ("churn_risk_resolved_total", L, None)
RECOVERED = ("churn_risk_recovered_total", L, None)


@pytest.mark.parametrize(
    ("text", "leaving"),
    [
        ("I want to CANCEL my   account now", True),  # any case, any run of spaces
        ("Im done. Switching to @OtherTelco tomorrow", True),
        ("I’m leaving for good", True),  # the typographic apostrophe
        ("i am done with you guys", True),
        ("Please close my account.", True),
        ("I'm not leaving, just asking", False),  # negated
        ("I would never cancel my account", False),
        ("don't want to switch to another carrier, fix it", False),
        ("I won't be switching to them", False),
        ("how do I switch plans?", False),
        ("cancel my accounts page is broken", False),  # a whole-word match only
        ("unswitching to", False),
        ("", False),
        (None, False),
        # A negated mention and a plain one in the same post: the plain one counts.
        ("I'm not leaving because of the price. But I am leaving: the service!", True),
    ],
)
def test_phrases_match_whole_words_unless_negated(text: str | None, leaving: bool) -> None:
    assert DEFAULT.stated_in(text) is leaving


@pytest.mark.parametrize(
    ("phrases", "text", "leaving"),
    [
        # The first letters' lookahead: any case, the typographic apostrophe, characters
        # a character class would read otherwise.
        (("'m outta here",), "I’m outta here", False),  # no word boundary before the '
        (("'m outta here",), "ok ’m outta here", True),
        (("Über wechseln",), "ich werde über   wechseln", True),
        (("-quit-", "^stop", "]end"), "then -quit- it is", True),
        (("-quit-", "^stop", "]end"), "x ^stop and ]end", True),
        (("-quit-", "^stop", "]end"), "quit stop end", False),
        (("Port my number",), "PORT MY NUMBER please", True),
    ],
)
def test_a_configured_list_matches_by_its_own_first_letters(
    phrases: tuple[str, ...], text: str, leaving: bool
) -> None:
    assert ChurnPhrases(phrases).stated_in(text) is leaving


def test_the_inquiry_type_alone_flags_and_an_empty_list_matches_nothing() -> None:
    none = ChurnPhrases([])
    assert states_leaving("churn_risk", None, none)
    assert not states_leaving("complaint", "cancel my account", none)
    assert states_leaving("complaint", "cancel my account", DEFAULT)
    custom = ChurnPhrases(["go elsewhere", " ", "port-out"])
    assert custom.phrases == ("go elsewhere", "port-out")
    assert custom.stated_in("I will GO elsewhere") and custom.stated_in("a port-out request")
    assert not custom.stated_in("cancel my account")


def test_a_churn_risk_resolved_and_recovered_by_a_survey() -> None:
    opened = [mention(0, text="hello"), mention(120, text="I'm switching to a rival")]
    flagged = contributions(run(opened, rules=RULES))
    assert flagged[CHURN] == 1.0 and RESOLVED not in flagged and RECOVERED not in flagged
    resolved = [*opened, reply(300, resolves=True)]
    out = contributions(run(resolved, rules=RULES))
    assert (out[CHURN], out[RESOLVED]) == (1.0, 1.0) and RECOVERED not in out
    unhappy = contributions(
        run([*resolved, event("survey", 900, kind="csat", score=3)], rules=RULES)
    )
    assert RECOVERED not in unhappy
    for kind, score in (("csat", 4), ("nps", 7)):
        happy = [*resolved, event("survey", 900, kind=kind, score=score)]
        assert contributions(run(happy, rules=RULES))[RECOVERED] == 1.0
    # Two statements are one conversation at risk; the type flags it without a phrase.
    twice = [mention(0, text="cancel my account"), mention(60, inquiry_type="churn_risk")]
    assert contributions(run(twice, rules=RULES))[CHURN] == 1.0
    # Without the phrase list, text alone flags nothing.
    assert CHURN not in contributions(run(opened))


def test_the_changes_sum_to_the_conversation_s_counts_in_any_order() -> None:
    events = [
        mention(0, text="my bill is wrong"),
        mention(30, text="close my account then"),
        reply(60, resolves=True),
        event("survey", 600, kind="nps", score=9),
    ]
    for order in itertools.permutations(events):
        state = new_state()
        total: Counter[tuple[str, tuple[str, ...], float | None]] = Counter()
        for item in order:
            for key, amount in stored(apply_event(state, item, policies(), RULES)).items():
                total[key] += amount
        assert (total[CHURN], total[RESOLVED], total[RECOVERED]) == (1.0, 1.0, 1.0)
        assert state.churn_risk_at == events[1].occurred_ts
