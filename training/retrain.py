"""Retraining: corpora plus stored labels → a candidate, measured beside the current model on the same data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spamfilter.artifact import LoadedModel
from spamfilter.comment import Comment
from spamfilter.normalise import normalise
from spamfilter.scorer import LeanScorer
from spamfilter.tiers import Thresholds
from training.data import FileReport, LabelledComment
from training.dataset import Dataset, deduplicate, near_duplicate_groups
from training.labels import LabelRows
from training.metrics import summarise
from training.train import TrainedModel, fit_model, run_protocols

Log = Callable[[str], None]
GATE_METRICS = ("roc_auc", "spam_caught_at_1pct_fpr")
GATE_PROTOCOLS = ("leave-one-video-out", "cross-corpus")
MAX_CHANGED = 500  # changed verdicts listed in the report, largest moves first
# A site's own held-back figures join the gate only with this many of each class: fewer, and one
# comment moves ROC-AUC by more than the tolerance.
MIN_SITE_CLASS = 20


@dataclass
class Candidate:
    """A retrained model with what it was trained on and how it compares with the current one."""

    summary: dict[str, Any]  # what it was trained on, for the model card
    trained: TrainedModel
    protocols: dict[str, Any] | None
    comparison: dict[str, Any]  # goes into the model card: what promotion's gate reads
    evaluation: dict[str, Any]  # stored beside the model: per-comment scores for the report


@dataclass(frozen=True)
class Scored:
    """Both models' probabilities and verdicts for the same comments."""

    current: np.ndarray
    candidate: np.ndarray
    current_verdicts: list[str]
    candidate_verdicts: list[str]


def _score(model: LeanScorer, thresholds: Thresholds, comments: list[Comment]) -> tuple[np.ndarray, list[str]]:
    if not comments:
        return np.zeros(0), []
    probabilities = model.probabilities(comments)
    return probabilities, [thresholds.verdict(p).value for p in probabilities.tolist()]


@dataclass(frozen=True)
class Pair:
    """The current model and the candidate, each with its lean scorer and thresholds."""

    current: LoadedModel
    scorer: LeanScorer  # the candidate's, built once: it indexes the whole vocabulary
    thresholds: Thresholds

    @classmethod
    def of(cls, current: LoadedModel, trained: TrainedModel) -> Pair:
        """Pair the current model with a freshly trained candidate."""
        return cls(current, LeanScorer(trained.model), trained.thresholds)


def score_both(pair: Pair, comments: list[Comment]) -> Scored:
    """Score comments with the current model and the candidate."""
    p_cur, v_cur = _score(pair.current.scorer, pair.current.thresholds, comments)
    p_new, v_new = _score(pair.scorer, pair.thresholds, comments)
    return Scored(p_cur, p_new, v_cur, v_new)


def training_set(reports: list[FileReport], labels: LabelRows, log: Log) -> tuple[Dataset, list[LabelledComment], int]:
    """Corpora plus the training labels, deduplicated; held-back labels near any of them are dropped."""
    label_texts = {normalise(r.comment.text).text for r in labels.train}
    # A site's own label is the newer truth: it replaces a corpus row with the same text.
    corpus = [r for report in reports for r in report.rows if normalise(r.comment.text).text not in label_texts]
    kept, duplicates, conflicts = deduplicate([*labels.train, *corpus])
    texts = [r.comment.text for r in kept] + [r.comment.text for r in labels.held_back]
    log(f"grouping {len(texts)} texts into near-duplicate groups...")
    groups = near_duplicate_groups(texts)
    trained_on = set(groups[: len(kept)].tolist())
    held_back = [r for r, g in zip(labels.held_back, groups[len(kept) :], strict=True) if g not in trained_on]
    dataset = Dataset(kept, groups[: len(kept)], reports, duplicates, conflicts)
    return dataset, held_back, len(labels.held_back) - len(held_back)


def _changed(rows: list[dict[str, Any]], scored: Scored) -> list[dict[str, Any]]:
    moved = [
        i for i, (a, b) in enumerate(zip(scored.current_verdicts, scored.candidate_verdicts, strict=True)) if a != b
    ]
    moved.sort(key=lambda i: -abs(float(scored.candidate[i] - scored.current[i])))
    return [
        {
            **rows[i],
            "text": rows[i]["text"][:500],
            "current": {"verdict": scored.current_verdicts[i], "p": round(float(scored.current[i]), 4)},
            "candidate": {"verdict": scored.candidate_verdicts[i], "p": round(float(scored.candidate[i]), 4)},
        }
        for i in moved[:MAX_CHANGED]
    ]


def _verdict_matrix(scored: Scored) -> dict[str, int]:
    pairs = Counter(zip(scored.current_verdicts, scored.candidate_verdicts, strict=True))
    return {f"{a}→{b}": n for (a, b), n in sorted(pairs.items())}


def evaluate_held_back(pair: Pair, held_back: list[LabelledComment]) -> dict[str, Any]:
    """Both models on the held-back labels: overall, per site, the curves' inputs, and changed verdicts."""
    scored = score_both(pair, [r.comment for r in held_back])
    labels = np.array([r.label for r in held_back], dtype=int)
    sites = [r.group for r in held_back]
    per_site = {}
    for site in sorted(set(sites)):
        mask = np.array([s == site for s in sites])
        per_site[site] = {
            "current": summarise(labels[mask], scored.current[mask]),
            "candidate": summarise(labels[mask], scored.candidate[mask]),
        }
    rows = [{"site": r.group, "text": r.comment.text, "label": "spam" if r.label else "ham"} for r in held_back]
    return {
        "overall": {
            "current": summarise(labels, scored.current, scored.current_verdicts),
            "candidate": summarise(labels, scored.candidate, scored.candidate_verdicts),
        },
        "per_site": per_site,
        "verdict_changes": _verdict_matrix(scored),
        "changed": _changed(rows, scored),
        "scores": {
            "label": labels.tolist(),
            "site": sites,
            "current": np.round(scored.current, 6).tolist(),
            "candidate": np.round(scored.candidate, 6).tolist(),
        },
    }


def evaluate_traffic(pair: Pair, checks: list[dict[str, Any]]) -> dict[str, Any]:
    """Both models on recently kept live comments (unlabelled): how verdicts would move."""
    comments = [Comment.from_mapping(c) for c in checks]
    scored = score_both(pair, comments)
    rows = [{"site": c.get("site"), "text": c["text"], "check_id": c.get("id")} for c in checks]
    return {"n": len(checks), "verdict_changes": _verdict_matrix(scored), "changed": _changed(rows, scored)}


def gate_figures(current: LoadedModel, held_back: dict[str, Any], protocols: dict[str, Any] | None) -> dict[str, Any]:
    """(candidate, current) pairs of the metrics promotion compares, by where they were measured."""
    gate: dict[str, Any] = {}
    overall = held_back["overall"]
    if "roc_auc" in overall["candidate"]:
        gate["held-back labels"] = {m: [overall["candidate"][m], overall["current"][m]] for m in GATE_METRICS}
    for site, pair in held_back["per_site"].items():
        if min(pair["candidate"]["spam"], pair["candidate"]["ham"]) >= MIN_SITE_CLASS:
            gate[f"held-back labels of {site}"] = {m: [pair["candidate"][m], pair["current"][m]] for m in GATE_METRICS}
    before = current.card.get("metrics", {}).get("protocols", {})
    for protocol in GATE_PROTOCOLS:
        ours = (protocols or {}).get(protocol, {}).get("mean", {}).get("ours")
        theirs = before.get(protocol, {}).get("mean", {}).get("ours")
        if ours and theirs:
            gate[f"{protocol} (mean)"] = {m: [ours[m], theirs[m]] for m in GATE_METRICS if m in ours and m in theirs}
    return gate


def compare(
    current: LoadedModel,
    trained: TrainedModel,
    held_back: list[LabelledComment],
    dropped: int,
    traffic: list[dict[str, Any]],
    labels: dict[str, int],
    protocols: dict[str, Any] | None,
    log: Log,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card's comparison (what the gate reads) and the stored evaluation (what the report draws)."""
    log(f"scoring {len(held_back)} held-back labels and {len(traffic)} recent checks with both models...")
    pair = Pair.of(current, trained)
    held = evaluate_held_back(pair, held_back)
    evaluation = {
        "against": current.version,
        "held_back": held,
        "held_back_dropped_as_near_duplicates": dropped,
        "traffic": evaluate_traffic(pair, traffic),
        "labels": labels,
    }
    comparison = {
        "against": current.version,
        "gate": gate_figures(current, held, protocols),
        "held_back": {k: held["overall"]["candidate"].get(k) for k in ("n", "spam", "ham")},
        "labels": labels,
    }
    return comparison, evaluation


def retrain(
    reports: list[FileReport],
    labels: LabelRows,
    current: LoadedModel,
    params: dict[str, Any],
    protocols: bool,
    traffic: list[dict[str, Any]],
    log: Log,
) -> Candidate:
    """Fit a candidate on corpora plus training labels and compare it with `current` on the same data."""
    dataset, held_back, dropped = training_set(reports, labels, log)
    s = dataset.summary()
    log(
        f"training on {s['rows_kept']} comments ({s['spam']} spam) including {len(labels.train)} stored labels; "
        f"{len(held_back)} recent labels held back ({dropped} more dropped as near-duplicates of training rows)"
    )
    log(f"fitting the candidate ({len(dataset.rows)} comments, 5 calibration folds + final fit)...")
    trained = fit_model(dataset, params)
    log(f"fitted in {trained.seconds:.1f}s; thresholds {trained.thresholds.as_dict()}")
    label_rows = np.flatnonzero(np.array([r.corpus == "stored" for r in dataset.rows], dtype=bool))
    protocol_metrics = run_protocols(dataset, params, log=log, always_train=label_rows) if protocols else None
    comparison, evaluation = compare(
        current, trained, held_back, dropped, traffic, labels.summary(), protocol_metrics, log
    )
    return Candidate(s, trained, protocol_metrics, comparison, evaluation)
