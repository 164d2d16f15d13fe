"""The spam classifier: a feature union, logistic regression and Platt calibration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from spamfilter.comment import Comment
from spamfilter.features import SignalExtractor, TextNormaliser, char_ngrams, word_ngrams

DEFAULT_PARAMS: dict[str, Any] = {"C": 10.0, "min_df": 2, "signal_weight": 1.0}


def build_pipeline(
    C: float = 4.0, min_df: int = 2, signal_weight: float = 1.0, class_weight: str | None = None
) -> Pipeline:
    """Normalised word and char n-grams plus signals, into a logistic regression."""
    features = FeatureUnion(
        [
            ("words", Pipeline([("text", TextNormaliser()), ("tfidf", _tfidf(word_ngrams, min_df))])),
            ("chars", Pipeline([("text", TextNormaliser()), ("tfidf", _tfidf(char_ngrams, min_df))])),
            ("signals", SignalExtractor()),
        ],
        transformer_weights={"words": 1.0, "chars": 1.0, "signals": signal_weight},
    )
    classifier = LogisticRegression(C=C, solver="liblinear", max_iter=1000, class_weight=class_weight)
    return Pipeline([("features", features), ("classifier", classifier)])


def _tfidf(analyzer: Any, min_df: int) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=analyzer, min_df=min_df, sublinear_tf=True, dtype=np.float64)


class CalibratedSpamModel(ClassifierMixin, BaseEstimator):
    """A linear pipeline whose decision is Platt-scaled on out-of-fold predictions.

    Folds keep near-duplicate groups together, so the calibration and the out-of-fold
    probabilities (used to choose the verdict thresholds) are honest.
    """

    def __init__(self, estimator: Pipeline | None = None, cv: int = 5, random_state: int = 0):
        self.estimator = estimator
        self.cv = cv
        self.random_state = random_state

    def fit(
        self,
        X: Sequence[Comment | str],
        y: ArrayLike,
        groups: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
    ) -> CalibratedSpamModel:
        """Fit out-of-fold for calibration, then on everything (rows weighted by `sample_weight`)."""
        y_arr = np.asarray(y, dtype=int)
        weights = {} if sample_weight is None else {"classifier__sample_weight": np.asarray(sample_weight, float)}
        groups_arr = np.arange(len(y_arr)) if groups is None else np.asarray(groups)
        base = self.estimator if self.estimator is not None else build_pipeline()
        folds = StratifiedGroupKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        splits = list(folds.split(np.zeros(len(y_arr)), y_arr, groups_arr))
        self.oof_decision_ = cross_val_predict(
            clone(base), list(X), y_arr, cv=splits, method="decision_function", params=weights
        )
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(
            self.oof_decision_.reshape(-1, 1), y_arr, sample_weight=weights.get("classifier__sample_weight")
        )
        self.calibration_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        self.oof_probability_ = self._calibrate(self.oof_decision_)
        self.pipeline_ = clone(base).fit(list(X), y_arr, **weights)
        self.classes_ = np.array([0, 1])
        return self

    def _calibrate(self, decision: np.ndarray) -> np.ndarray:
        slope, intercept = self.calibration_
        return np.asarray(1.0 / (1.0 + np.exp(-(slope * decision + intercept))))

    def decision_function(self, X: Sequence[Comment | str]) -> np.ndarray:
        """The uncalibrated linear score."""
        return np.asarray(self.pipeline_.decision_function(list(X)))

    def predict_proba(self, X: Sequence[Comment | str]) -> np.ndarray:
        """Calibrated [P(ham), P(spam)] per comment."""
        spam = self._calibrate(self.decision_function(X))
        return np.column_stack([1.0 - spam, spam])

    def predict(self, X: Sequence[Comment | str]) -> np.ndarray:
        """1 for spam where the calibrated probability reaches one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
