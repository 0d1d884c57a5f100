"""The quality board's row of predicted CSAT (docs/metrics.md: Predicted CSAT).

Every title says "predicted" and every description says it is a model, not an answer: the
panels sit next to the surveyed CSAT, and nobody should take one for the other.
"""

from __future__ import annotations

from grafana.boards.panels import SHARE, Format, Panel, Q, Row, Stat, Timeseries, steps
from grafana.boards.promql import eq, filled_ratio, inc, le, m, ratio, zero_fill

CSAT_POINTS = Format("none", decimals=2, min=1, max=5)
ERROR_POINTS = Format("none", decimals=2, min=0)


def _predicted_mean(by: str, window: str = "24h") -> str:
    return ratio(
        inc(m("predicted_csat", "sum"), by, window), inc(m("predicted_csat", "count"), by, window)
    )


def _signed_error() -> str:
    """Over minus under, each completed with 0 from the other (a side may have no series)."""
    errors = m("predicted_csat_error_points")
    over = inc(errors, "brand", "7d", eq("direction", "over"))
    under = inc(errors, "brand", "7d", eq("direction", "under"))
    return f"({zero_fill(over, under)} - {zero_fill(under, over)})"


def predicted_rows() -> list[Panel | Row]:
    checks = inc(m("predicted_csat_checks"), "brand", "7d")
    return [
        Row("Predicted CSAT (a model, not survey answers)"),
        Stat(
            "Predicted CSAT average (24h) - predicted",
            "PREDICTED, not surveyed: the average predicted CSAT (1-5) of the resolutions of the "
            "last 24 hours, by brand, from a model learned on the survey answers "
            "(the predicted_csat histogram). Every resolved conversation gets a prediction, "
            "surveyed or not.",
            CSAT_POINTS,
            [Q(_predicted_mean("brand"), "{{brand}}")],
            w=6,
            thresholds=steps("red", (3.5, "orange"), (4.2, "green")),
        ),
        Timeseries(
            "Predicted vs surveyed CSAT average (1h) - predicted",
            "The hourly average of the PREDICTED CSAT of resolutions (dashed: a model) against "
            "the average of the survey answers of the same hour, by brand.",
            CSAT_POINTS,
            [
                Q(_predicted_mean("brand", "1h"), "predicted {{brand}}"),
                Q(
                    ratio(
                        inc(m("csat_score"), "brand", "1h"), inc(m("csat_responses"), "brand", "1h")
                    ),
                    "surveyed {{brand}}",
                ),
            ],
            w=6,
        ),
        Stat(
            "Predicted satisfied share (24h) - predicted",
            "PREDICTED, not surveyed: share of the resolutions of the last 24 hours whose "
            "predicted CSAT rounds to 4 or 5 (above 3.5), by brand.",
            SHARE,
            [
                Q(
                    "1 - "
                    + ratio(
                        inc(m("predicted_csat", "bucket"), "brand", "24h", le(3.5)),
                        inc(m("predicted_csat", "count"), "brand"),
                    ),
                    "{{brand}}",
                )
            ],
            w=4,
        ),
        Stat(
            "Prediction error (7d): mean absolute error",
            "How far the predicted CSAT was from the survey answers it was checked against "
            "(each predicted before the model saw the answer), in points, by brand: "
            "error points / answers checked.",
            ERROR_POINTS,
            [Q(ratio(inc(m("predicted_csat_error_points"), "brand", "7d"), checks), "{{brand}}")],
            w=4,
            thresholds=steps("green", (0.6, "orange"), (1.0, "red")),
        ),
        Stat(
            "Prediction within one point (7d)",
            "Share of the survey answers checked whose predicted CSAT was within one point, "
            "by brand.",
            SHARE,
            [
                Q(
                    filled_ratio(inc(m("predicted_csat_within_one_point"), "brand", "7d"), checks),
                    "{{brand}}",
                )
            ],
            w=4,
            thresholds=steps("red", (0.7, "orange"), (0.85, "green")),
        ),
        Stat(
            "Prediction bias (7d)",
            "Mean signed error of the predictions against the answers, in points, by brand: "
            "above 0 the model predicts too high.",
            Format("none", decimals=2),
            [Q(ratio(_signed_error(), checks), "{{brand}}")],
            w=4,
        ),
    ]
