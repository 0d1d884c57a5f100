"""The generator's CSAT answers follow the documented relation to the service.

Checked from the events alone: the opening sentiment, the first human reply, the follow-ups
and the redirection give the expected score (`synthetic_csat.expected_csat`, the relation
the docs state), and the answers scatter around it as its noise says.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from processor.ingest.synthetic_csat import csat_answer, expected_csat

START = 1_767_225_600.0


def at(document: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(document["occurred_at"]).replace("Z", "+00:00")).timestamp()


def test_answers_follow_the_known_relation() -> None:
    events = SyntheticTraffic(START, seed=11, profile=TrafficProfile(conversations_per_minute=6))
    threads: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for document in events.advance(START + 3 * 86400):
        threads[str(document["conversation_id"])].append(document)
    residuals = []
    slow_answers, fast_answers = [], []
    for thread in threads.values():
        answer = next((e for e in thread if e["type"] == "survey" and e["kind"] == "csat"), None)
        if answer is None:
            continue
        opening = thread[0]
        first_human = next(e for e in thread if e["type"] == "reply" and not e["automated"])
        waited_ms = (at(first_human) - at(opening)) * 1000
        follow_ups = sum(1 for e in thread if e["type"] == "mention") - 1
        redirected = any(e["type"] == "redirection" for e in thread)
        expected = expected_csat(opening["sentiment"], waited_ms, follow_ups, redirected)
        residuals.append(answer["score"] - expected)
        (slow_answers if waited_ms > 3_600_000 else fast_answers).append(answer["score"])
    assert len(residuals) > 1000
    # Unbiased where no clamping bites much, and as scattered as noise 0.45 plus rounding.
    mean = sum(residuals) / len(residuals)
    mean_absolute = sum(abs(r) for r in residuals) / len(residuals)
    assert abs(mean) < 0.08, mean
    assert 0.3 < mean_absolute < 0.5, mean_absolute
    assert sum(slow_answers) / len(slow_answers) < sum(fast_answers) / len(fast_answers) - 0.8


def test_one_draw_makes_one_answer_within_the_scale() -> None:
    assert csat_answer(4.4, 0.5) == 4
    assert csat_answer(4.6, 0.5) == 5
    assert csat_answer(9.0, 0.0) == 5
    assert csat_answer(-3.0, 0.999) == 1
    assert csat_answer(3.0, 0.99) == 4  # +2.33 sd = +1.05 points
    assert expected_csat(0.0, 0.0, 0, False) == pytest.approx(4.5)
    assert expected_csat(-1.0, 8 * 3_600_000, 2, True) == pytest.approx(4.5 - 0.6 - 2.0 - 0.7 - 0.4)
