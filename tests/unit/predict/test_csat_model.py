"""The CSAT model: learns a relation, falls back to the pooled model, stores as numbers."""

from __future__ import annotations

import random

import orjson
import pytest

from processor.predict.csat_model import (
    MIN_BRAND_SURVEYS,
    MIN_POOLED_SURVEYS,
    CsatModel,
    CsatModels,
)


def sample(rng: random.Random) -> tuple[dict[str, float], float]:
    """A known linear relation: 4.6 - 0.8 per hour waited + 0.5 x sentiment, noise 0.3."""
    hours, sentiment = rng.uniform(0, 3), rng.uniform(-1, 1)
    features = {"bias": 1.0, "hours": hours, "sentiment": sentiment}
    return features, 4.6 - 0.8 * hours + 0.5 * sentiment + rng.gauss(0, 0.3)


def test_the_model_finds_a_known_relation() -> None:
    rng = random.Random(3)
    model = CsatModel()
    for _ in range(2000):
        model.learn(*sample(rng))
    assert model.surveys == 2000
    assert model.predict({"bias": 1.0, "hours": 0.0, "sentiment": 0.0}) == pytest.approx(
        4.6, abs=0.05
    )
    assert model.predict({"bias": 1.0, "hours": 2.0, "sentiment": -1.0}) == pytest.approx(
        2.5, abs=0.05
    )
    # Kept within the scale.
    assert model.predict({"bias": 1.0, "hours": 10.0, "sentiment": -1.0}) == 1.0


def test_stored_and_read_back_it_predicts_and_learns_alike() -> None:
    rng = random.Random(5)
    model = CsatModel()
    for _ in range(300):
        model.learn(*sample(rng))
    model.refresh()  # as the store does before writing
    document = orjson.loads(orjson.dumps(model.to_json()))  # through the changelog's JSON
    restored = CsatModel.from_json(document)
    assert restored.surveys == 300
    probes = [sample(rng)[0] for _ in range(50)]
    assert [restored.predict(x) for x in probes] == [model.predict(x) for x in probes]
    more = [sample(rng) for _ in range(100)]
    for features, score in more:
        model.learn(features, score)
        restored.learn(features, score)
    assert [restored.predict(x) for x in probes] == pytest.approx(
        [model.predict(x) for x in probes], abs=1e-9
    )
    assert CsatModel.from_json(CsatModel().to_json()).surveys == 0


def test_a_brand_uses_its_own_model_once_it_learned_enough() -> None:
    models = CsatModels()
    fast = {"bias": 1.0, "hours": 0.1}
    assert models.predict("Acme", fast) is None  # nobody learned anything yet
    for _ in range(MIN_POOLED_SURVEYS):
        models.learn("Zephyr", fast, 2.0)  # another brand, unhappy
    assert models.changed == {"Zephyr", ""}
    # Acme has no model of its own yet: the pooled one (Zephyr's answers) speaks.
    pooled = models.predict("Acme", fast)
    assert pooled is not None and pooled < 2.5
    for _ in range(MIN_BRAND_SURVEYS):
        models.learn("Acme", fast, 5.0)
    own = models.predict("Acme", fast)
    assert own is not None and own > 4.5
    assert models.surveys_learned() == {
        "Zephyr": MIN_POOLED_SURVEYS,
        "Acme": MIN_BRAND_SURVEYS,
        "": MIN_POOLED_SURVEYS + MIN_BRAND_SURVEYS,
    }
