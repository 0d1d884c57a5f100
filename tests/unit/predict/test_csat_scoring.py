"""Scoring, checking and learning as a conversation's events come (hand-computed counts)."""

from __future__ import annotations

from typing import Any

import pytest

from processor.domain.conversation import ConversationState, apply_event
from processor.metrics.series import Contributions
from processor.predict import csat_scoring
from processor.predict.csat_model import MIN_POOLED_SURVEYS, CsatModels
from tests.unit.domain.test_conversation import (
    BRAND,
    CHANNEL,
    T0,
    event,
    mention,
    new_state,
    policies,
    reply,
)
from tests.unit.predict.test_csat_features import RULES


def fold(
    state: ConversationState, models: CsatModels, item: Any, holdout: float = 0.0
) -> Contributions:
    apply_event(state, item, policies(), RULES)
    answer = int(item.score) if item.type == "survey" and item.kind == "csat" else None
    resolving = item.type == "reply" and bool(item.resolves)
    return csat_scoring.on_event(state, models, item.occurred_ts, resolving, answer, holdout)


def warm(models: CsatModels, score: float) -> None:
    """A pooled model that says `score` whatever the features."""
    for _ in range(200):
        models.learn("Other", {"bias": 1.0}, score)


def by_family(out: Contributions) -> dict[tuple[str, tuple[str, ...], str], float]:
    return {(key.family.removeprefix("socialcare_"), key.labels, key.part): value
            for key, value in out.items() if key.part != "bucket"}  # fmt: skip


def test_a_resolution_is_scored_then_its_answer_checked_and_learned() -> None:
    models = CsatModels()
    warm(models, 4.0)
    state = new_state()
    assert fold(state, models, mention(0)) == {}
    assert fold(state, models, reply(60, agent_id="a", team="t")) == {}
    scored = fold(state, models, reply(120, agent_id="a", team="t", resolves=True))
    prediction = state.predicted_csat
    assert prediction == pytest.approx(4.0, abs=0.01)
    assert by_family(scored) == {
        ("predicted_csat", (BRAND, CHANNEL, "explicit"), "sum"): prediction,
        ("predicted_csat", (BRAND, CHANNEL, "explicit"), "count"): 1.0,
    }
    learned_before = models.models[""].surveys
    checked = fold(state, models, event("survey", 600, kind="csat", score=2))
    labels = (BRAND, CHANNEL, "learned")
    assert by_family(checked) == {
        ("predicted_csat_checks", labels, ""): 1.0,
        ("predicted_csat_error_points", (*labels, "over"), ""): pytest.approx(prediction - 2),
    }  # 2 points off: not within one
    assert models.models[""].surveys == learned_before + 1
    assert state.csat_learned == 1
    # An NPS answer teaches nothing; a second CSAT answer is checked against the same prediction.
    assert fold(state, models, event("survey", 700, kind="nps", score=9)) == {}
    again = fold(state, models, event("survey", 800, kind="csat", score=4))
    assert by_family(again)[("predicted_csat_within_one_point", labels, "")] == 1.0


def test_an_answer_before_the_resolution_waits_for_it() -> None:
    models = CsatModels()
    warm(models, 3.0)
    state = new_state()
    fold(state, models, mention(0))
    assert fold(state, models, event("survey", 30, kind="csat", score=5)) == {}
    assert state.csat_learned == 0
    out = fold(state, models, reply(60, agent_id="a", team="t", resolves=True))
    assert state.csat_learned == 1
    families = by_family(out)
    assert families[("predicted_csat_checks", (BRAND, CHANNEL, "learned"), "")] == 1.0
    assert families[("predicted_csat_error_points", (BRAND, CHANNEL, "learned", "under"), "")] == (
        pytest.approx(5 - state.predicted_csat)  # type: ignore[operator]
    )


def test_held_out_answers_are_checked_never_learned() -> None:
    share = 0.5
    ids = [f"c-{n}" for n in range(200)]
    kept_out = [cid for cid in ids if csat_scoring.held_out(cid, share)]
    assert 70 < len(kept_out) < 130  # about half, and always the same ones
    assert kept_out == [cid for cid in ids if csat_scoring.held_out(cid, share)]
    assert not any(csat_scoring.held_out(cid, 0.0) for cid in ids)
    models = CsatModels()
    warm(models, 4.0)
    state = ConversationState(conversation_id=kept_out[0], partition=0)
    for item in (mention(0), reply(60, agent_id="a", team="t", resolves=True)):
        fold(state, models, item, share)
    before = models.models[""].surveys
    out = fold(state, models, event("survey", 90, kind="csat", score=4), share)
    assert models.models[""].surveys == before
    assert by_family(out)[("predicted_csat_checks", (BRAND, CHANNEL, "held_out"), "")] == 1.0


def test_no_prediction_while_the_model_warms_up_but_the_answers_teach_it() -> None:
    models = CsatModels()
    for n in range(MIN_POOLED_SURVEYS):
        state = ConversationState(conversation_id=f"w-{n}", partition=0)
        for item in (mention(0), reply(60, agent_id="a", team="t", resolves=True)):
            assert fold(state, models, item) == {}
        assert state.predicted_csat is None
        assert fold(state, models, event("survey", 90, kind="csat", score=5)) == {}  # unchecked
    state = new_state()
    fold(state, models, mention(0))
    out = fold(state, models, reply(60, agent_id="a", team="t", resolves=True))
    assert state.predicted_csat is not None and state.predicted_csat > 4.0
    assert by_family(out)[("predicted_csat", (BRAND, CHANNEL, "explicit"), "count")] == 1.0


def test_a_resolution_by_inactivity_is_the_clocks_to_score_once() -> None:
    models = CsatModels()
    warm(models, 3.5)
    state = new_state()
    apply_event(state, mention(0), policies(), RULES.__class__(inactivity_seconds=3600))
    apply_event(state, reply(60, agent_id="a", team="t"), policies(),
                RULES.__class__(inactivity_seconds=3600))  # fmt: skip
    state.swept_until = T0 + 1800
    assert csat_scoring.on_clock(state, models) == {}  # still within the inactivity time
    state.swept_until = T0 + 3660
    out = csat_scoring.on_clock(state, models)
    assert by_family(out)[("predicted_csat", (BRAND, CHANNEL, "inactivity"), "count")] == 1.0
    assert state.predicted_csat is None  # not kept: never checked
    state.swept_until = T0 + 7200
    assert csat_scoring.on_clock(state, models) == {}  # scored once
