"""The CSAT model: river's online Bayesian linear regression, per brand with a pooled fallback.

Why river's `BayesianLinearRegression` rather than a periodic batch fit: the surveys come as a
stream and a model fitted once a night would lag a team that changed its ways this morning;
the Bayesian form learns one answer at a time with an exact posterior (the same answers in the
same order give the same model, however they are batched), needs neither feature scaling nor
a learning rate to tune, and its whole state is two natural parameters (the precision matrix
and the precision-weighted mean): plain numbers for the changelog, not a pickle.

The regression predicts the score less the middle of the scale (3), so a model that has seen
few answers leans to the middle, not to 0. A brand's own model answers once it has learned
from `BRAND_FACTOR` x `min_answers` answers; before that the pooled model of the partition
(every brand's answers) does, once it has `min_answers` (SOCIALCARE_CSAT_MIN_ANSWERS, 10);
before that there is no prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from river.linear_model import BayesianLinearRegression

from processor.predict.csat_features import Features

CSAT_MIN, CSAT_MAX, CSAT_MIDDLE = 1.0, 5.0, 3.0
MIN_POOLED_SURVEYS = 10  # SOCIALCARE_CSAT_MIN_ANSWERS
BRAND_FACTOR = 3  # a brand's own model answers after three times as many
MIN_BRAND_SURVEYS = BRAND_FACTOR * MIN_POOLED_SURVEYS
# Prior precision of the weights (river's alpha is its inverse) and precision of the noise
# (an answer scatters about 0.6 points around what the service explains).
PRIOR_VARIANCE = 1.0
NOISE_PRECISION = 2.5
POOLED = ""  # the pooled model's brand key


class CsatModel:
    """One regression and the number of answers it learned from."""

    __slots__ = ("regression", "surveys")

    def __init__(self, regression: BayesianLinearRegression | None = None, surveys: int = 0):
        self.regression = regression or BayesianLinearRegression(
            alpha=PRIOR_VARIANCE, beta=NOISE_PRECISION
        )
        self.surveys = surveys

    def predict(self, features: Features) -> float:
        """The expected score, within the scale, to a thousandth of a point."""
        raw = CSAT_MIDDLE + float(self.regression.predict_one(features))  # type: ignore[no-untyped-call]
        return round(min(max(raw, CSAT_MIN), CSAT_MAX), 3)

    def learn(self, features: Features, score: float) -> None:
        self.regression.learn_one(features, score - CSAT_MIDDLE)  # type: ignore[no-untyped-call]
        self.surveys += 1

    # -- stored form -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The natural parameters: feature order, precision (upper triangle), weighted mean."""
        regression = self.regression
        names = list(regression._idx)
        size = len(names)
        precision = regression._ss_arr[:size, :size]
        upper = np.triu_indices(size)
        return {
            "features": names,
            "precision": precision[upper].tolist(),
            "natural_mean": regression._eta_arr[:size].tolist(),
            "surveys": self.surveys,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> CsatModel:
        regression = BayesianLinearRegression(alpha=PRIOR_VARIANCE, beta=NOISE_PRECISION)
        names: list[str] = document["features"]
        size = len(names)
        if size:
            regression._ensure_features(names)
            precision = np.zeros((size, size))
            precision[np.triu_indices(size)] = document["precision"]
            precision = precision + np.triu(precision, 1).T
            regression._ss_arr[:size, :size] = precision
            regression._eta_arr[:size] = document["natural_mean"]
        model = cls(regression, int(document["surveys"]))
        model.refresh()
        return model

    def refresh(self) -> None:
        """The covariance from the precision, as a restore computes it.

        Learning keeps the covariance by rank-one updates, whose rounding differs from a
        fresh inverse in the last bits; refreshed at each checkpoint, the model a worker
        keeps is the model a restarted worker reads back, so predictions replay exactly.
        """
        regression = self.regression
        size = len(regression._idx)
        if size:
            regression._ss_inv_arr[:size, :size] = np.linalg.inv(regression._ss_arr[:size, :size])
            regression._m_dirty = True


class CsatModels:
    """The models of one partition: per brand and pooled; which changed since the last write."""

    __slots__ = ("changed", "min_answers", "models")

    def __init__(
        self, models: dict[str, CsatModel] | None = None, min_answers: int = MIN_POOLED_SURVEYS
    ) -> None:
        self.models = models if models is not None else {}
        self.min_answers = min_answers
        self.changed: set[str] = set()

    def _model(self, brand: str) -> CsatModel:
        model = self.models.get(brand)
        if model is None:
            model = self.models[brand] = CsatModel()
        return model

    def predict(self, brand: str, features: Features) -> float | None:
        """The brand's model once it learned enough, else the pooled one; None while both
        are warming up."""
        own = self.models.get(brand)
        if own is not None and own.surveys >= BRAND_FACTOR * self.min_answers:
            return own.predict(features)
        pooled = self.models.get(POOLED)
        if pooled is not None and pooled.surveys >= self.min_answers:
            return pooled.predict(features)
        return None

    def learn(self, brand: str, features: Features, score: float) -> None:
        """One answer teaches the brand's model and the pooled one."""
        for key in (brand, POOLED):
            self._model(key).learn(features, score)
            self.changed.add(key)

    def surveys_learned(self) -> dict[str, int]:
        """Answers each brand's model learned from (the pooled one under "")."""
        return {brand: model.surveys for brand, model in self.models.items()}
