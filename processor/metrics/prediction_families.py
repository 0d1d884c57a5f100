"""Families of what the processor predicts: the CSAT of the conversations nobody surveyed,
the first-response breaches of the next minutes.

Declared as in `families`, part of its `BUSINESS_FAMILIES`; counted by
`processor.predict.csat_scoring` and `processor.predict.breach_forecast`. Their names say
"predicted" or "forecast": a prediction is never exported under a survey's or an outcome's
name, and the board panels that show them say so.
"""

from __future__ import annotations

from processor.metrics.family import Family

# The CSAT scale in buckets of one point: le="1.5" are predictions that round to 1, ...
PREDICTED_CSAT_BUCKETS: tuple[float, ...] = (1.5, 2.5, 3.5, 4.5)
# Calibration samples: answers the model then learned from, answers kept out of learning
# (SOCIALCARE_CSAT_HOLDOUT_SHARE).
SAMPLES = ("learned", "held_out")

PREDICTED_CSAT = Family(
    "socialcare_predicted_csat",
    "histogram",
    "Predicted CSAT (1-5) of each resolution (how=explicit or inactivity), from the "
    "conversation's service and sentiment: a model learned from the surveys, not an answer.",
    ("brand", "channel", "how"),
)
PREDICTED_CSAT_CHECKS = Family(
    "socialcare_predicted_csat_checks",
    "counter",
    "CSAT answers compared with the prediction made before the model saw them; "
    "sample=learned or held_out (kept out of learning).",
    ("brand", "channel", "sample"),
)
PREDICTED_CSAT_ERROR_POINTS = Family(
    "socialcare_predicted_csat_error_points",
    "counter",
    "Sum of the prediction errors in CSAT points against the answers checked: direction=over "
    "(predicted above the answer) or under.",
    ("brand", "channel", "sample", "direction"),
)
PREDICTED_CSAT_WITHIN_ONE_POINT = Family(
    "socialcare_predicted_csat_within_one_point",
    "counter",
    "CSAT answers checked whose prediction was within one point of the answer.",
    ("brand", "channel", "sample"),
)

FORECAST_FIRST_RESPONSE_BREACHES = Family(
    "socialcare_forecast_first_response_breaches",
    "gauge",
    "Expected first-response SLA breaches within the horizon (15m or 60m of event time from "
    "now): the waiting conversations due in it that the current reply rate will not reach "
    "in time, plus arrivals that will wait past their target with the staffed agents.",
    ("brand", "channel", "priority", "horizon"),
)

PREDICTION_FAMILIES: tuple[Family, ...] = (
    PREDICTED_CSAT,
    PREDICTED_CSAT_CHECKS,
    PREDICTED_CSAT_ERROR_POINTS,
    PREDICTED_CSAT_WITHIN_ONE_POINT,
    FORECAST_FIRST_RESPONSE_BREACHES,
)
