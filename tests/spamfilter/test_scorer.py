"""The lean scorer gives the fitted pipeline's probabilities and names its reasons."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from spamfilter.artifact import LoadedModel
from spamfilter.comment import Comment
from tests.conftest import HAM, SHARED_DATA, SPAM

EXTRA = [
    "",
    "!!!",
    "a",
    "Привет как дела",
    "visit w w w . spam . com for fr33 c4sh!!!!",
    "Comment with a very long word " + "x" * 500,
    "Email me at someone@example.com or call +1 (555) 123-4567",
    Comment("nice post", author="Buy now www.pills.com", author_url="http://pills.com"),
]


def _corpus_sample(limit: int = 400) -> list[Comment | str]:
    path = SHARED_DATA / "youtube-spam-collection" / "Youtube01-Psy.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [Comment(row["CONTENT"], author=row["AUTHOR"]) for row in list(csv.DictReader(handle))[:limit]]


@pytest.mark.parametrize("which", ["small_model", "bundled_model"])
def test_lean_scorer_matches_fitted_pipeline(which: str, request: pytest.FixtureRequest) -> None:
    model: LoadedModel = request.getfixturevalue(which)
    comments: list[Comment | str] = [*SPAM, *HAM, *EXTRA, *_corpus_sample()]
    pipeline = model.model.predict_proba(comments)[:, 1]
    lean = np.array([model.scorer.probability(c) for c in comments])
    assert np.abs(pipeline - lean).max() < 1e-6
    batched = model.scorer.probabilities(comments)
    assert np.abs(pipeline - batched).max() < 1e-6


def test_reasons_name_words_links_and_signals(bundled_model: LoadedModel) -> None:
    check = bundled_model.check("Please subscribe to my channel!! http://bit.ly/x1", reasons=8)
    features = [r.feature for r in check.reasons]
    assert any(f in features for f in ('word "subscribe"', "link to bit.ly", "contains a link"))
    assert all(r.weight != 0 for r in check.reasons)
    assert check.verdict.value in ("spam", "discard")
    assert check.reasons[0].weight > 0  # the strongest push is towards spam


def test_reasons_push_both_ways(bundled_model: LoadedModel) -> None:
    check = bundled_model.check("I love this song, the video is great", reasons=5)
    assert check.verdict.value == "ham"
    assert any(r.weight < 0 for r in check.reasons)


def test_check_names_model_version(small_model: LoadedModel) -> None:
    assert small_model.check("hello").model_version == "fixture-1"
