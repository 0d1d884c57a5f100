"""`SOCIALCARE_PREDICTIONS=false`: predicted CSAT and the breach forecast off, the rest alike.

The predictions read what the catalogue computes and write only their own series, models and
bookkeeping fields, so turning them off must leave every other number as it was. The
reference is the same traffic through a pipeline with them on.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from processor.metrics.prediction_families import (
    PREDICTED_CSAT,
    PREDICTED_CSAT_CHECKS,
    PREDICTED_CSAT_ERROR_POINTS,
    PREDICTED_CSAT_WITHIN_ONE_POINT,
)
from processor.metrics.series import parse_stored
from processor.settings import Settings, TeamStaffing, load_settings
from processor.stream.interfaces import Message
from processor.stream.pipeline import Pipeline
from tests.unit.stream.test_live_states import half_a_day, run_half_a_day

START = 1_700_000_000.0
PREDICTION_FAMILIES = {
    family.name
    for family in (
        PREDICTED_CSAT,
        PREDICTED_CSAT_CHECKS,
        PREDICTED_CSAT_ERROR_POINTS,
        PREDICTED_CSAT_WITHIN_ONE_POINT,
    )
}
# The conversation's bookkeeping for the CSAT model (processor.predict.csat_scoring).
PREDICTION_FIELDS = ("predicted_csat", "scored_resolutions", "csat_learned", "clock_scored_at")

Tables = dict[str, dict[str, object]]


async def _run(predictions: bool, messages: list[Message]) -> tuple[Pipeline, Tables]:
    settings = Settings.model_validate({
        "partitions": 2, "allowed_lateness_seconds": 600, "clock": "event",
        "predictions": predictions, "csat_min_answers": 3,
        "team_staffing": {"tier1": TeamStaffing(hourly_cost=40.0, agents=3, handle_minutes=4)},
    })  # fmt: skip
    pipeline, tables = await run_half_a_day(settings, messages)
    pipeline.assign({0, 1})
    return pipeline, tables


def _split(records: dict[str, object]) -> tuple[dict[str, object], int]:
    """The records without the prediction families' fields, and how many fields those had."""
    kept: dict[str, object] = {}
    predicted = 0
    for key, record in records.items():
        assert isinstance(record, dict)
        fields = {}
        for field, value in record.items():
            if parse_stored(field)[0] in PREDICTION_FAMILIES:
                predicted += 1
            else:
                fields[field] = value
        if fields:
            kept[key] = fields
    return kept, predicted


def _without_prediction_fields(documents: dict[str, object]) -> dict[str, object]:
    out = {}
    for key, document in documents.items():
        assert isinstance(document, Mapping)
        out[key] = {name: value for name, value in document.items()
                    if name not in PREDICTION_FIELDS}  # fmt: skip
    return out


async def test_without_predictions_every_other_number_is_the_same() -> None:
    messages = half_a_day(START, seed=3, conversations_per_minute=4)
    with_them, on = await _run(True, messages)
    without, off = await _run(False, messages)

    # The predicted series are all-time totals (their windows are PromQL's); the windows'
    # records must be the same too.
    kept_on, predicted_on = _split(on["t"])
    kept_off, predicted_off = _split(off["t"])
    assert predicted_on > 20, "the reference must have predicted series"
    assert predicted_off == 0, "predicted series with predictions off"
    assert kept_off == kept_on
    assert off["w"] == on["w"] and len(on["w"]) > 10
    assert len(on["c"]) > 1000
    assert _without_prediction_fields(off["c"]) == _without_prediction_fields(on["c"])
    for table in ("h", "k", "p", "s", "u"):
        assert off[table] == on[table], table
    assert on["m"] and not off["m"], "no CSAT model learns with predictions off"

    # The scrape: the forecast from the reference's history, none without it; the backlog
    # the same.
    partitions = {0, 1}
    assert with_them.view.breach_forecast(partitions)
    assert without.view.breach_forecast(partitions) == {}
    assert all(not without.conversations.history(partition).arrivals for partition in partitions)
    assert without.view.open_by_priority(partitions) == with_them.view.open_by_priority(partitions)


def test_the_switch_is_on_unless_the_environment_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().predictions is True
    monkeypatch.setenv("SOCIALCARE_PREDICTIONS", "false")
    assert load_settings().predictions is False
