"""Optional sentiment scoring of inbound posts that arrive without a sentiment.

VADER (vaderSentiment) is a lexicon and rule-based scorer made for social media English:
it reads emoticons, slang, capitals and "!!!", needs no model download (the lexicon ships
in the package) and scores a post in microseconds, so it can run inline in a worker. Its
compound score is on the same -1..1 scale as the contract's `sentiment`. Enabled with
`SOCIALCARE_SENTIMENT_SCORER=vader` (install the `sentiment` extra).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from processor.domain.events import Mention

Scorer = Callable[[str], float]


def load_scorer(name: str) -> Scorer | None:
    """The scorer named by SOCIALCARE_SENTIMENT_SCORER, or None for `none`."""
    if name == "none":
        return None
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise ValueError(
            "SOCIALCARE_SENTIMENT_SCORER=vader needs the vaderSentiment package: "
            "pip install 'socialcare-processor[sentiment]'"
        ) from None
    analyzer = SentimentIntensityAnalyzer()

    def vader(text: str) -> float:
        return float(analyzer.polarity_scores(text)["compound"])

    return vader


def with_sentiment(mention: Mention, scorer: Scorer | None) -> Mention:
    """The mention with a scored sentiment when it has text but no sentiment of its own."""
    if scorer is None or mention.sentiment is not None or not mention.text:
        return mention
    return msgspec.structs.replace(mention, sentiment=round(scorer(mention.text), 4))
