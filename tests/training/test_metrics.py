"""Metrics report catch rates at fixed ham losses and a tier table."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import expected_calibration_error, spam_caught_at_fpr, summarise


@pytest.mark.parametrize(
    ("labels", "scores", "fpr", "caught"),
    [
        ([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.9, 0.8], 0.0, 1.0),
        ([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.95, 0.9, 0.2], 0.0, 0.0),
        ([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.95, 0.9, 0.2], 0.25, 0.5),
    ],
)
def test_spam_caught_at_fpr(labels: list[int], scores: list[float], fpr: float, caught: float) -> None:
    assert spam_caught_at_fpr(np.array(labels), np.array(scores), fpr) == pytest.approx(caught)


def test_summarise_with_tiers() -> None:
    result = summarise([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.99], ["ham", "review", "spam", "discard"])
    assert result["roc_auc"] == 1.0
    assert result["tiers"] == {
        "ham": {"ham": 1, "review": 1, "spam": 0, "discard": 0},
        "spam": {"ham": 0, "review": 0, "spam": 1, "discard": 1},
    }


def test_one_class_is_reported_not_crashed() -> None:
    assert "note" in summarise([1, 1], [0.2, 0.9])


@pytest.mark.parametrize(
    ("labels", "scores", "ece"),
    [
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.0),
        ([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0], 0.0),
        ([0, 0, 0, 0], [0.9, 0.9, 0.9, 0.9], 0.9),
    ],
)
def test_expected_calibration_error(labels: list[int], scores: list[float], ece: float) -> None:
    assert expected_calibration_error(np.array(labels), np.array(scores)) == pytest.approx(ece)
