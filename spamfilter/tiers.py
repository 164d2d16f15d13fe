"""Verdict tiers: thresholds on the calibrated probability, chosen to meet stated ham-loss targets."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from spamfilter.comment import Verdict


@dataclass(frozen=True)
class Targets:
    """Share of ham each tier may take at most, on validation data."""

    review_max_ham_rate: float = 0.03
    spam_max_ham_rate: float = 0.005
    discard_max_ham_rate: float = 0.0005

    def as_dict(self) -> dict[str, float]:
        """For the model card."""
        return asdict(self)


@dataclass(frozen=True)
class Thresholds:
    """Lowest calibrated probability for each tier above ham."""

    review: float
    spam: float
    discard: float

    def verdict(self, probability: float) -> Verdict:
        """The tier a probability falls in."""
        if probability >= self.discard:
            return Verdict.DISCARD
        if probability >= self.spam:
            return Verdict.SPAM
        if probability >= self.review:
            return Verdict.REVIEW
        return Verdict.HAM

    def as_dict(self) -> dict[str, float]:
        """For the model card."""
        return asdict(self)


def threshold_for_ham_rate(ham_scores: np.ndarray, max_rate: float) -> float:
    """The lowest threshold at which at most `max_rate` of these ham scores reach it."""
    allowed = math.floor(max_rate * len(ham_scores))
    ordered = np.sort(np.asarray(ham_scores, dtype=float))[::-1]
    if allowed >= len(ordered):
        return 0.0
    # Just above the first ham score that must not pass, so ties cannot sneak through.
    return float(min(1.0, np.nextafter(ordered[allowed], np.inf)))


def choose_thresholds(labels: np.ndarray, probabilities: np.ndarray, targets: Targets) -> Thresholds:
    """Thresholds that meet the targets on these (out-of-fold) probabilities, kept in order."""
    ham = np.asarray(probabilities)[np.asarray(labels) == 0]
    discard = threshold_for_ham_rate(ham, targets.discard_max_ham_rate)
    spam = min(threshold_for_ham_rate(ham, targets.spam_max_ham_rate), discard)
    review = min(threshold_for_ham_rate(ham, targets.review_max_ham_rate), spam)
    return Thresholds(review=review, spam=spam, discard=discard)
