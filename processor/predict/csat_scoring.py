"""What a change of a conversation means to the CSAT model: predict, check, learn.

- Each resolution is scored (a conversation reopened and resolved again is scored again, as
  `socialcare_resolutions_total` counts it again) and goes to the predicted-CSAT histogram.
- Each CSAT answer is first checked against the prediction the model made before it saw the
  answer (progressive validation: the calibration counters measure the model on answers it
  had not seen), then learned from, unless its conversation is held out. An answer that
  comes before its conversation is resolved waits on the state for the resolution.

Replays give the numbers live processing gives: the model learns only at events, and what
an event does depends only on the events before it (in the aligned input's event-time
order), never on when the clock ran. The one
exception is a resolution by inactivity (a customer silent for the inactivity time after a
human reply): it is scored when the clock declares it, with the model as it stands then, so
a replay, whose clock runs at other moments, may score it otherwise or, when the customer's
next post comes first, not at all. It is exported apart (`how="inactivity"`), its prediction
is neither kept nor checked, and no answer is learned on its account. The brand's own
resolutions (`how="explicit"`) and the calibration counters are exactly reproducible.
"""

from __future__ import annotations

import zlib

from processor.domain.conversation import MAX_SURVEYS, ConversationState
from processor.metrics.prediction_families import (
    PREDICTED_CSAT,
    PREDICTED_CSAT_CHECKS,
    PREDICTED_CSAT_ERROR_POINTS,
    PREDICTED_CSAT_WITHIN_ONE_POINT,
)
from processor.metrics.series import Contributions, count, observe
from processor.predict.csat_features import Features, csat_features
from processor.predict.csat_model import CsatModels

_HASH_RANGE = 2**32


def held_out(conversation_id: str, share: float) -> bool:
    """Whether a conversation's answers are kept out of learning (a stable hash of its id)."""
    return share > 0 and zlib.crc32(conversation_id.encode()) < share * _HASH_RANGE


def on_event(
    state: ConversationState,
    models: CsatModels,
    at: float,
    resolving: bool = False,
    csat_answer: int | None = None,
    holdout_share: float = 0.0,
) -> Contributions:
    """After an event at `at` was folded into the state: score the resolution it completed
    (`resolving`: the brand's own), or check and learn its CSAT answer; the counts added."""
    out: Contributions = {}
    brand, channel = state.brand, state.channel
    if brand is None or channel is None or state.opened_at is None:
        return out
    walk = state.walk
    if walk.resolutions > state.scored_resolutions:
        state.scored_resolutions = walk.resolutions
        features = csat_features(state, walk.ending(at, [])) if resolving else None
        if features is None:
            return out  # a resolution by inactivity is the clock's to score
        prediction = state.predicted_csat = models.predict(brand, features)
        if prediction is not None:
            observe(out, PREDICTED_CSAT, (brand, channel, "explicit"), prediction)
        answers = sorted(value for kind, value in state.surveys if kind == "csat")
        for answer in answers[state.csat_learned : MAX_SURVEYS]:
            _lesson(state, models, features, answer, holdout_share, out)
    elif (
        csat_answer is not None and state.csat_learned < MAX_SURVEYS and walk.resolutions_by(at) > 0
    ):
        features = csat_features(state, walk.ending(at, []))
        if features is not None:
            _lesson(state, models, features, csat_answer, holdout_share, out)
    return out


def on_clock(state: ConversationState, models: CsatModels) -> Contributions:
    """After the clock moved the state: score a resolution by inactivity it declared."""
    out: Contributions = {}
    brand, channel = state.brand, state.channel
    walk = state.walk
    last_reply = walk.last_human
    if (
        brand is None
        or channel is None
        or last_reply is None
        or last_reply == state.clock_scored_at
        or walk.resolutions_by(state.swept) == walk.resolutions
    ):
        return out
    state.clock_scored_at = last_reply
    features = csat_features(state, walk.ending(state.swept, []))
    prediction = None if features is None else models.predict(brand, features)
    if prediction is not None:
        observe(out, PREDICTED_CSAT, (brand, channel, "inactivity"), prediction)
    return out


def _lesson(
    state: ConversationState,
    models: CsatModels,
    features: Features,
    answer: int,
    holdout_share: float,
    out: Contributions,
) -> None:
    """Check the prediction against one answer, then learn from it (unless held out)."""
    assert state.brand is not None and state.channel is not None
    state.csat_learned += 1
    keep_out = held_out(state.conversation_id, holdout_share)
    labels = (state.brand, state.channel, "held_out" if keep_out else "learned")
    predicted = state.predicted_csat
    if predicted is not None:
        error = predicted - answer
        for key, amount in (
            (count(PREDICTED_CSAT_CHECKS, labels), 1.0),
            (count(PREDICTED_CSAT_ERROR_POINTS, (*labels, "over" if error > 0 else "under")),
             abs(error)),
            (count(PREDICTED_CSAT_WITHIN_ONE_POINT, labels), 1.0 if abs(error) <= 1 else 0.0),
        ):  # fmt: skip
            if amount:
                out[key] = out.get(key, 0.0) + amount
    if not keep_out:
        models.learn(state.brand, features, answer)
