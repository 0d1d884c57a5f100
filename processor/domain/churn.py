"""The churn signal: a customer who says they are leaving.

A mention states it by its inquiry type (`churn_risk`, set by the listening platform's
classifier) or in its text, matched against a phrase list (`SOCIALCARE_CHURN_PHRASES`): the
phrases care teams escalate on ("cancel my account", "switching to", "I'm done with").
A phrase counts as a whole-word match in any letter case, with any run of spaces between
its words, unless a negation shortly before it turns it round ("I'm not leaving", "would
never cancel my account"). Text is never exported: only the conversation's flag and what
came of it (`processor.domain.contributions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import cast

DEFAULT_CHURN_PHRASES: tuple[str, ...] = (
    "cancel my account",
    "cancel my subscription",
    "cancel my service",
    "cancelling my account",
    "cancelling my subscription",
    "canceling my account",
    "canceling my subscription",
    "close my account",
    "closing my account",
    "delete my account",
    "switching to",
    "switch to another",
    "moving to another",
    "taking my business elsewhere",
    "take my business elsewhere",
    "i'm leaving",
    "i am leaving",
    "i'm done with",
    "i am done with",
    "never buying",
    "never using",
    "last time i use",
    "unsubscribe me",
    "port my number",
)

# A negation in the few words before a phrase: "not", "never", "no", "n't" and the like.
_NEGATED = re.compile(
    r"\b(?:not|never|no|won't|wont|don't|dont|isn't|am\s+not|i'm\s+not|wouldn't|"
    r"wasn't|without)\b(?:\W+\w+){0,2}\W*$",
    re.IGNORECASE,
)
_NEGATION_REACH = 40  # characters before the phrase searched for a negation


class ChurnPhrases:
    """A compiled phrase list; `stated_in(text)` says whether a text states leaving.

    ASCII text against ASCII phrases goes to the native core's scan when it is built (the
    same matches: `native/src/churn.rs`, held to this expression by the differential
    tests); the expression answers for the rest."""

    def __init__(self, phrases: Iterable[str] = DEFAULT_CHURN_PHRASES) -> None:
        self.phrases = tuple(phrase.strip() for phrase in phrases if phrase.strip())
        self._native: Callable[[str], bool | None] | None = None
        if not self.phrases:
            self._pattern: re.Pattern[str] | None = None
            return
        # Longest first, so that "cancel my account" wins over a shorter prefix.
        in_order = sorted(
            ((r"\s+".join(re.escape(word) for word in phrase.split()), phrase)
             for phrase in self.phrases),
            key=lambda pair: len(pair[0]),
            reverse=True,
        )  # fmt: skip
        alternatives = [alternative for alternative, _ in in_order]
        # Apostrophes: the straight and the typographic one read the same.
        joined = "|".join(alternatives).replace("'", "['’]")
        # A lookahead on the phrases' first letters first: most positions of a text start
        # no phrase, and one character class rules them out at once instead of trying
        # every alternative there (6.5 -> 4.3 µs a mention).
        firsts = {phrase[0].lower() for phrase in self.phrases}
        if "'" in firsts:
            firsts.add("’")
        lead = "".join(re.escape(char) for char in sorted(firsts))
        self._pattern = re.compile(rf"(?=[{lead}])(?<!\w)(?:{joined})(?!\w)", re.IGNORECASE)
        if all(phrase.isascii() for phrase in self.phrases):
            self._native = _native_scan([phrase.split() for _, phrase in in_order])

    def stated_in(self, text: str | None) -> bool:
        if not text or self._pattern is None:
            return False
        if self._native is not None and text.isascii():
            found = self._native(text)
            if found is not None:
                return found
        return self.stated_in_by_expression(text)

    def stated_in_by_expression(self, text: str | None) -> bool:
        """The expression's answer alone (the reference the native scan is held to)."""
        if not text or self._pattern is None:
            return False
        for found in self._pattern.finditer(text):
            before = text[max(0, found.start() - _NEGATION_REACH) : found.start()]
            if not _NEGATED.search(before.replace("’", "'")):
                return True
        return False


def _native_scan(phrases: list[list[str]]) -> Callable[[str], bool | None] | None:
    """The native core's scan of these phrases (in the alternation's order), if built."""
    try:
        from socialcare_native import ChurnPhrases as NativeChurnPhrases
    except ImportError:
        return None
    return cast(Callable[[str], "bool | None"], NativeChurnPhrases(phrases).stated_in)


NO_PHRASES = ChurnPhrases(())


def states_leaving(inquiry_type: str | None, text: str | None, phrases: ChurnPhrases) -> bool:
    """A mention's churn signal: the `churn_risk` inquiry type or a phrase of the list."""
    return inquiry_type == "churn_risk" or phrases.stated_in(text)
