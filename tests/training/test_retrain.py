"""Retraining: stored labels join the corpora, recent ones are held back honestly, both models are compared."""

from __future__ import annotations

import pytest

from spamfilter.artifact import LoadedModel
from spamfilter.comment import Comment
from tests.conftest import HAM, SPAM, site_comments, write_labelled_csv
from training.data import FileReport, LabelledComment, read_file
from training.labels import LabelRows
from training.retrain import Candidate, retrain, training_set

SITE = "https://gazette.example"


def _row(text: str, label: int, weight: float = 3.0) -> LabelledComment:
    return LabelledComment(Comment(text=text, site=SITE), label, "stored", SITE, "label:test", weight)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[FileReport], LabelRows]:
    """Small corpora, a site's stored labels and its held-back recent ones."""
    corpus = write_labelled_csv(
        tmp_path_factory.mktemp("corpus") / "corpus.csv",
        [{"text": t, "label": "spam"} for t in SPAM] + [{"text": t, "label": "ham"} for t in HAM],
    )
    train = [_row(t, y) for t, y in site_comments(1, 120)]
    train.append(_row(SPAM[0], 0))  # the site says this corpus spam is fine here: its label wins
    held = [_row(t, y) for t, y in site_comments(2, 40)]
    held.append(_row(train[0].comment.text + " indeed", train[0].label))  # a near-duplicate of a training row
    return [read_file(corpus)], LabelRows(train=train, held_back=held)


@pytest.fixture(scope="module")
def candidate(inputs: tuple[list[FileReport], LabelRows], bundled_model: LoadedModel) -> Candidate:
    traffic = [{"id": "c1", "site": SITE, "text": t} for t, _ in site_comments(3, 10)]
    params = {"C": 10.0, "min_df": 1, "signal_weight": 1.0}
    return retrain(*inputs, bundled_model, params, False, traffic, log=lambda _: None)


def test_stored_labels_join_the_corpora_and_override_them(inputs: tuple[list[FileReport], LabelRows]) -> None:
    rows = training_set(*inputs, log=lambda _: None)[0].rows
    assert 115 <= sum(r.corpus == "stored" for r in rows) <= 121  # exact repeats are deduplicated
    overridden = [r for r in rows if r.comment.text == SPAM[0]]
    assert [(r.corpus, r.label) for r in overridden] == [("stored", 0)]
    assert {r.weight for r in rows} == {1.0, 3.0}


def test_held_back_labels_near_training_rows_are_dropped(candidate: Candidate) -> None:
    assert candidate.evaluation["held_back_dropped_as_near_duplicates"] >= 1
    overall = candidate.evaluation["held_back"]["overall"]
    assert (
        overall["current"]["n"]
        == overall["candidate"]["n"]
        == len(candidate.evaluation["held_back"]["scores"]["label"])
    )
    assert overall["candidate"]["n"] <= 40


def test_both_models_are_measured_on_the_same_held_back_comments(
    candidate: Candidate, bundled_model: LoadedModel
) -> None:
    held = candidate.evaluation["held_back"]
    assert set(held["per_site"]) == {SITE}
    assert candidate.comparison["against"] == bundled_model.version
    gate = candidate.comparison["gate"]["held-back labels"]
    assert set(gate) == {"roc_auc", "spam_caught_at_1pct_fpr"}
    assert gate["roc_auc"] == [held["overall"]["candidate"]["roc_auc"], held["overall"]["current"]["roc_auc"]]
    for row in held["changed"]:
        assert row["current"]["verdict"] != row["candidate"]["verdict"]
    moves = sum(n for pair, n in held["verdict_changes"].items() if pair.split("→")[0] != pair.split("→")[1])
    assert moves == len(held["changed"])


def test_recent_traffic_is_scored_by_both(candidate: Candidate) -> None:
    traffic = candidate.evaluation["traffic"]
    assert traffic["n"] == 10
    assert sum(traffic["verdict_changes"].values()) == 10


def test_sites_with_enough_held_back_labels_are_gated_on_their_own(bundled_model: LoadedModel) -> None:
    from training.retrain import MIN_SITE_CLASS, gate_figures

    figures = {"n": 60, "roc_auc": 0.9, "spam_caught_at_1pct_fpr": 0.5}
    big = {
        "current": {**figures, "spam": MIN_SITE_CLASS, "ham": 40},
        "candidate": {**figures, "spam": MIN_SITE_CLASS, "ham": 40},
    }
    small = {"current": {**figures, "spam": 3, "ham": 5}, "candidate": {**figures, "spam": 3, "ham": 5}}
    held = {"overall": big, "per_site": {"https://big.example": big, "https://small.example": small}}
    gate = gate_figures(bundled_model, held, None)
    assert set(gate) == {"held-back labels", "held-back labels of https://big.example"}
