"""The native scan of the churn phrases against `ChurnPhrases`' regular expression, the
reference: the same answer on every ASCII text, built from the phrases' words, the
negations, runs of ASCII spaces (0x1c-0x1f among them), word characters stuck to either
side, punctuation, and long words and gaps (the negation's reach); None (the expression's
turn) on any other text."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.domain.churn import DEFAULT_CHURN_PHRASES, ChurnPhrases

PIECES = (
    *DEFAULT_CHURN_PHRASES,
    *(phrase.upper() for phrase in DEFAULT_CHURN_PHRASES[:6]),
    "not", "NEVER", "no", "won't", "wont", "don't", "isn't", "am", "i'm", "Am  Not",
    "wouldn't", "wasn't", "without", "cannot", "i", "my", "account", "to", "the", "_",
    "x", "9", "re", "extraordinarily", "s", "'", "-", ",", ".", "!", "@telco", "switch",
    "switching",
)  # fmt: skip
SPACES = st.sampled_from(
    [" ", "  ", "\t", "\n", "\x1c", "\x1f", "\x0b", "", ",", " - ", " ............ "]
)
ASCII_TEXT = st.lists(st.tuples(st.sampled_from(PIECES), SPACES), max_size=24).map(
    lambda parts: "".join(piece + space for piece, space in parts)
)
# A negation, a few words and gaps, then a phrase: near the negation's reach of 40 characters.
NEGATIONS = st.sampled_from(["not", "Never", "no", "won't", "dont", "i'm  not", "am not", "cannot"])
FILLER = st.lists(st.sampled_from(["extraordinarily", "so", "x", "_", "going", "to"]), max_size=3)
GAP = st.sampled_from([" ", "  ", " ... ", " ............ ", " -- ", ""])
NEGATED_TEXT = st.builds(
    lambda negation, filler, gap, phrase, tail: negation
    + gap + " ".join(filler) + gap + phrase + tail,
    NEGATIONS, FILLER, GAP, st.sampled_from(DEFAULT_CHURN_PHRASES), st.sampled_from(["", "s", "!"]),
)  # fmt: skip
PHRASE_LISTS = st.sampled_from(
    [
        DEFAULT_CHURN_PHRASES,
        ("switch", "switching to", "switch to another"),  # prefixes of each other
        ("I'M DONE", "done with", "no"),  # upper case, a negation as a phrase
        ("port  my   number",),  # runs of spaces inside a phrase
    ]
)


@settings(max_examples=3000, deadline=None)
@given(
    PHRASE_LISTS,
    ASCII_TEXT | NEGATED_TEXT | st.text(st.characters(max_codepoint=127), max_size=80),
)
def test_the_scan_answers_as_the_expression(
    native: ModuleType, phrases: tuple[str, ...], text: str
) -> None:
    matcher = ChurnPhrases(phrases)
    scan = native.ChurnPhrases([phrase.split() for phrase in _in_order(phrases)])
    assert scan.stated_in(text) == matcher.stated_in_by_expression(text), text
    assert matcher.stated_in(text) == matcher.stated_in_by_expression(text), text


def _in_order(phrases: tuple[str, ...]) -> list[str]:
    """The alternation's order: the longest pattern first (stable)."""
    return sorted(
        phrases,
        key=lambda phrase: len(r"\s+".join(re.escape(word) for word in phrase.split())),
        reverse=True,
    )


def test_text_beyond_ascii_is_the_expression_s(native: ModuleType) -> None:
    scan = native.ChurnPhrases([["switching", "to"]])
    assert scan.stated_in("switching to them 🙂") is None
    # The expression's Unicode rules (the typographic apostrophe, a Kelvin sign read as a
    # k) answer through `ChurnPhrases` then.
    matcher = ChurnPhrases(("i'm leaving", "take my business elsewhere"))
    assert matcher.stated_in("I’m leaving")
    assert matcher.stated_in("ta\u212ae my business elsewhere")


def test_phrases_beyond_ascii_keep_the_expression(native: ModuleType) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        native.ChurnPhrases([["résilier"]])
    matcher = ChurnPhrases(("résilier mon abonnement",))
    assert matcher.stated_in("je vais RÉSILIER mon abonnement")
    assert not matcher.stated_in("je ne vais pas résilier mes abonnements")
