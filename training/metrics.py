"""Metrics that say how a spam filter will behave: ranking quality and catch rates at fixed ham losses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    matthews_corrcoef,
    roc_auc_score,
    roc_curve,
)

from spamfilter.comment import Verdict


def spam_caught_at_fpr(labels: np.ndarray, scores: np.ndarray, max_fpr: float) -> float:
    """Share of spam caught by the best threshold that blocks at most `max_fpr` of ham."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(tpr[fpr <= max_fpr].max(initial=0.0))


def summarise(labels: ArrayLike, scores: ArrayLike, verdicts: Sequence[str] | None = None) -> dict[str, object]:
    """ROC-AUC, PR-AUC, F1 and MCC at 0.5, catch rates at 1 % and 0.1 % ham lost, tier table."""
    y = np.asarray(labels, dtype=int)
    p = np.asarray(scores, dtype=float)
    result: dict[str, object] = {"n": len(y), "spam": int(y.sum()), "ham": int(len(y) - y.sum())}
    if len(np.unique(y)) < 2:
        result["note"] = "only one class present: ranking metrics undefined"
        return result
    predicted = (p >= 0.5).astype(int)
    result.update(
        {
            "roc_auc": float(roc_auc_score(y, p)),
            "pr_auc": float(average_precision_score(y, p)),
            "f1": float(f1_score(y, predicted)),
            "mcc": float(matthews_corrcoef(y, predicted)),
            "spam_caught_at_1pct_fpr": spam_caught_at_fpr(y, p, 0.01),
            "spam_caught_at_0.1pct_fpr": spam_caught_at_fpr(y, p, 0.001),
            "brier": float(brier_score_loss(y, p)),
            "expected_calibration_error": expected_calibration_error(y, p),
        }
    )
    if verdicts is not None:
        result["tiers"] = tier_table(y, verdicts)
    return result


def tier_table(labels: np.ndarray, verdicts: Sequence[str]) -> dict[str, dict[str, int]]:
    """Confusion matrix per tier: for each true class, how many landed in each verdict."""
    v = np.asarray(verdicts)
    return {
        name: {tier.value: int(((labels == cls) & (v == tier.value)).sum()) for tier in Verdict}
        for name, cls in (("ham", 0), ("spam", 1))
    }


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Mean gap between predicted probability and observed spam rate, over equal-width bins."""
    which = np.minimum((scores * bins).astype(int), bins - 1)
    gap = 0.0
    for b in np.unique(which):
        members = which == b
        gap += members.sum() * abs(scores[members].mean() - labels[members].mean())
    return float(gap / len(scores))
