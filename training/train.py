"""Fit the model, choose its thresholds, and measure it and the baseline under every protocol."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spamfilter.model import DEFAULT_PARAMS, CalibratedSpamModel, build_pipeline
from spamfilter.tiers import Targets, Thresholds, choose_thresholds
from training.baseline import build_baseline
from training.dataset import Dataset
from training.metrics import summarise
from training.splits import PROTOCOLS, Split, protocol_splits, with_training_rows

Log = Callable[[str], None]
HEADLINE = (
    "roc_auc",
    "pr_auc",
    "spam_caught_at_1pct_fpr",
    "spam_caught_at_0.1pct_fpr",
    "mcc",
    "f1",
    "brier",
    "expected_calibration_error",
)


@dataclass
class TrainedModel:
    """A fitted model with thresholds chosen on its out-of-fold probabilities."""

    model: CalibratedSpamModel
    thresholds: Thresholds
    validation: dict[str, object]
    seconds: float


def fit_model(dataset: Dataset, params: dict[str, Any] | None = None, targets: Targets | None = None) -> TrainedModel:
    """Fit on the whole dataset; thresholds and validation metrics come from out-of-fold predictions."""
    started = time.perf_counter()
    model = CalibratedSpamModel(build_pipeline(**{**DEFAULT_PARAMS, **(params or {})}))
    model.fit(dataset.comments, dataset.labels, dataset.groups, sample_weight=dataset.weights)
    thresholds = choose_thresholds(dataset.labels, model.oof_probability_, targets or Targets())
    verdicts = [thresholds.verdict(p).value for p in model.oof_probability_]
    validation = summarise(dataset.labels, model.oof_probability_, verdicts)
    return TrainedModel(model, thresholds, validation, time.perf_counter() - started)


def _evaluate_split(dataset: Dataset, split: Split, params: dict[str, Any] | None) -> dict[str, Any]:
    train, test = dataset.subset(split.train), dataset.subset(split.test)
    ours = fit_model(train, params)
    ours_scores = ours.model.predict_proba(test.comments)[:, 1]
    verdicts = [ours.thresholds.verdict(p).value for p in ours_scores]
    baseline = build_baseline().fit(train.comments, train.labels)
    baseline_scores = baseline.predict_proba(test.comments)[:, 1]
    return {
        "name": split.name,
        "train": len(split.train),
        "test": len(split.test),
        "test_dropped_as_near_duplicates": split.dropped,
        "ours": summarise(test.labels, ours_scores, verdicts),
        "baseline": summarise(test.labels, baseline_scores),
        "_scores": (test.labels, ours_scores, baseline_scores),
    }


def _mean(results: list[dict[str, Any]], who: str) -> dict[str, float]:
    return {
        key: float(np.mean([r[who][key] for r in results if key in r[who]]))
        for key in HEADLINE
        if any(key in r[who] for r in results)
    }


def run_protocols(
    dataset: Dataset, params: dict[str, Any] | None = None, log: Log = print, always_train: np.ndarray | None = None
) -> dict[str, Any]:
    """Ours and the baseline under each protocol: per split, mean over splits, and pooled.

    Rows in `always_train` (such as a site's stored labels) join every split's training side.
    """
    report: dict[str, Any] = {}
    for protocol in PROTOCOLS:
        splits = protocol_splits(dataset, protocol)
        if always_train is not None and len(always_train):
            splits = [with_training_rows(split, always_train, dataset.groups) for split in splits]
        results = []
        for number, split in enumerate(splits, start=1):
            started = time.perf_counter()
            result = _evaluate_split(dataset, split, params)
            results.append(result)
            log(
                f"[{protocol} {number}/{len(splits)}] {split.name}: ROC-AUC ours "
                f"{result['ours']['roc_auc']:.4f} vs baseline {result['baseline']['roc_auc']:.4f}; "
                f"spam caught at 1% FPR {result['ours']['spam_caught_at_1pct_fpr']:.3f} vs "
                f"{result['baseline']['spam_caught_at_1pct_fpr']:.3f} ({time.perf_counter() - started:.1f}s)"
            )
        if not results:
            log(f"[{protocol}] skipped: the data lacks what it needs")
            continue
        labels = np.concatenate([r["_scores"][0] for r in results])
        pooled = {
            "ours": summarise(labels, np.concatenate([r["_scores"][1] for r in results])),
            "baseline": summarise(labels, np.concatenate([r["_scores"][2] for r in results])),
        }
        for r in results:
            del r["_scores"]
        report[protocol] = {
            "splits": results,
            "mean": {"ours": _mean(results, "ours"), "baseline": _mean(results, "baseline")},
            "pooled": pooled,
        }
    return report
