"""Thresholds meet their ham-rate targets and verdicts follow them."""

from __future__ import annotations

import numpy as np
import pytest

from spamfilter.comment import Verdict
from spamfilter.tiers import Targets, Thresholds, choose_thresholds, threshold_for_ham_rate


@pytest.mark.parametrize(
    ("ham", "rate", "passing"),
    [
        ([0.1, 0.2, 0.3, 0.9], 0.25, 1),
        ([0.1, 0.2, 0.3, 0.9], 0.0, 0),
        ([0.5] * 10, 0.1, 0),  # ties cannot sneak through
        (list(np.linspace(0, 1, 1000)), 0.005, 5),
    ],
)
def test_threshold_for_ham_rate(ham: list[float], rate: float, passing: int) -> None:
    threshold = threshold_for_ham_rate(np.array(ham), rate)
    assert int((np.array(ham) >= threshold).sum()) == passing


def test_choose_thresholds_keeps_tiers_in_order() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0] * 2000 + [1] * 500)
    scores = np.concatenate([rng.beta(1, 8, 2000), rng.beta(8, 1, 500)])
    t = choose_thresholds(labels, scores, Targets())
    assert t.review <= t.spam <= t.discard
    ham = scores[labels == 0]
    assert (ham >= t.spam).mean() <= 0.005
    assert (ham >= t.discard).mean() <= 0.0005


@pytest.mark.parametrize(
    ("p", "verdict"),
    [(0.0, Verdict.HAM), (0.2, Verdict.REVIEW), (0.5, Verdict.REVIEW), (0.8, Verdict.SPAM), (0.99, Verdict.DISCARD)],
)
def test_verdict_tiers(p: float, verdict: Verdict) -> None:
    assert Thresholds(review=0.2, spam=0.8, discard=0.99).verdict(p) is verdict
