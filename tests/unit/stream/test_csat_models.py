"""The CSAT models in their table: written per batch, read back by a worker that takes over."""

from __future__ import annotations

import random

import pytest

from processor.predict.csat_model import CsatModels
from processor.stream.csat_models import CsatModelStore, model_key


def teach(models: CsatModels, brand: str, answers: int, rng: random.Random) -> None:
    for _ in range(answers):
        hours = rng.uniform(0, 4)
        models.learn(brand, {"bias": 1.0, "hours": hours}, 4.8 - 0.8 * hours)


def test_a_new_store_on_the_same_table_predicts_alike() -> None:
    table: dict[str, object] = {}
    store = CsatModelStore(table, min_answers=10)
    rng = random.Random(2)
    teach(store.of(0), "Acme", 40, rng)
    teach(store.of(1), "Zephyr", 12, rng)
    assert table == {}  # nothing written before the batch ends
    store.flush()
    assert sorted(table) == [model_key(0, ""), model_key(0, "Acme"), model_key(1, ""),
                             model_key(1, "Zephyr")]  # fmt: skip
    assert store.of(0).changed == set()
    probe = {"bias": 1.0, "hours": 2.0}
    taken_over = CsatModelStore(table, min_answers=10)
    for partition, brand in ((0, "Acme"), (1, "Zephyr"), (1, "Other")):
        assert taken_over.of(partition).predict(brand, probe) == store.of(partition).predict(
            brand, probe
        )
    # 4.8 - 0.8 x 2, learned from 40 answers (the prior pulls a little towards 3).
    assert store.of(0).predict("Acme", probe) == pytest.approx(3.2, abs=0.05)
    assert taken_over.surveys_learned({0, 1}) == {"Acme": 40, "Zephyr": 12, "": 52}
    # A revoked partition is read again from the table when it comes back.
    teach(store.of(0), "Acme", 5, rng)  # taught, never written (the batch failed)
    store.forget({0})
    assert store.of(0).surveys_learned() == {"Acme": 40, "": 40}
    # Partitions without models have none.
    assert store.of(3).predict("Acme", probe) is None
