"""Out-of-core training: bounded counting, a correctly installed vocabulary, streaming, and a usable model."""

from __future__ import annotations

import copy
import functools
import itertools
import random
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import roc_auc_score

from spamfilter.artifact import library_versions, load_model, save_model
from spamfilter.comment import Comment
from spamfilter.features import TextNormaliser, char_ngrams, word_ngrams
from spamfilter.normalise import FEATURE_VERSION, normalise
from spamfilter.scorer import LeanScorer
from tests.conftest import HAM, SPAM
from training.data import LabelledComment
from training.outofcore import (
    ALPHA_FLOOR,
    DocumentFrequencies,
    default_alpha,
    fit_streaming,
    in_calibration_slice,
    transform,
)
from training.train import TrainedModel

SPAM_WORDS = "free prize win cash subscribe channel click offer cheap money winner claim bonus deal"
HAM_WORDS = "song love video great article thanks match mayor summer daughter funny report policy goal"
SHARED_WORDS = "the a this my is to and you it for of on at with"
ODD: list[Comment | str] = [
    "",
    "!!!",
    "Привет как дела",
    "visit w w w . spam . com for fr33 c4sh!!!!",
    "zzqx unseen words only",
    Comment("nice post", author="Buy now www.pills.com", author_url="http://pills.com"),
]


def _row(text: str, label: int, weight: float = 1.0) -> LabelledComment:
    return LabelledComment(Comment(text), label, "labels", "labels", "test", weight)


def separable(count: int, seed: int) -> Iterator[LabelledComment]:
    """Sentences of class words mixed with shared words, about 30 % spam, made one at a time."""
    rng = random.Random(seed)
    spam, ham, shared = SPAM_WORDS.split(), HAM_WORDS.split(), SHARED_WORDS.split()
    for _ in range(count):
        label = int(rng.random() < 0.3)
        own = spam if label else ham
        words = [rng.choice(own if rng.random() < 0.6 else shared) for _ in range(rng.randint(6, 14))]
        yield _row(" ".join(words), label)


class Source:
    """A chunks() factory that makes its rows afresh on each call, recording how it was read."""

    def __init__(self, make: Callable[[], Iterable[LabelledComment]], size: int):
        self.make, self.size = make, size
        self.calls = 0
        self.longest = 0
        self.most_alive = 0
        self.alive: weakref.WeakSet[LabelledComment] = weakref.WeakSet()  # every row not yet let go

    def __call__(self) -> Iterator[list[LabelledComment]]:
        self.calls += 1
        rows = iter(self.make())
        while chunk := list(itertools.islice(rows, self.size)):
            self.alive.update(chunk)
            self.longest = max(self.longest, len(chunk))
            self.most_alive = max(self.most_alive, len(self.alive))
            yield chunk


@pytest.fixture(scope="module")
def streamed() -> tuple[TrainedModel, Source, list[str]]:
    """A model streamed from 2,000 separable rows in chunks of 100."""
    source = Source(lambda: separable(2000, seed=1), 100)
    lines: list[str] = []
    return fit_streaming(source, log=lines.append, epochs=2), source, lines


def test_counter_is_exact_below_its_bound() -> None:
    counter = DocumentFrequencies(max_terms=1000)
    documents = [["a", "b", "a"], ["b", "c"], ["a"]]
    for terms in documents:
        counter.add(terms)
    assert counter.counts == {"a": 2, "b": 2, "c": 1}
    assert (counter.floor, counter.documents) == (0, 3)


def test_counter_pruning_stays_bounded_and_within_its_error() -> None:
    rng = np.random.default_rng(0)
    counter = DocumentFrequencies(max_terms=200)
    truth: Counter[str] = Counter()
    for _ in range(3000):
        terms = {f"t{z}" for z in rng.zipf(1.3, size=8)}
        truth.update(terms)
        counter.add(terms)
        assert len(counter.counts) <= 200
    assert counter.prunes > 0 and counter.floor > 0
    for term, true_df in truth.items():
        if term in counter.counts:
            assert counter.counts[term] <= true_df <= counter.counts[term] + counter.slack.get(term, 0)
            assert counter.slack.get(term, 0) <= counter.floor
        else:
            assert true_df <= counter.floor
    top = [term for term, _ in truth.most_common(20)]
    assert all(term in counter.counts for term in top)
    assert counter.frequent(1, 5) == {t: counter.counts[t] for t in top[:5]}


def test_calibration_slice_is_stable_and_near_its_share() -> None:
    texts = [f"comment number {i}" for i in range(20_000)]
    held = [in_calibration_slice(t, 0.1) for t in texts]
    assert held == [in_calibration_slice(t, 0.1) for t in texts]
    assert 0.09 < np.mean(held) < 0.11
    assert not any(in_calibration_slice(t, 0.0) for t in texts[:100])


def test_vocabulary_and_idf_are_a_fitted_vectorisers(streamed: tuple[TrainedModel, Source, list[str]]) -> None:
    trained, _, _ = streamed
    texts = [
        t
        for t in TextNormaliser().transform(r.comment for r in separable(2000, seed=1))
        if not in_calibration_slice(t, 0.1)
    ]
    union = trained.model.pipeline_.named_steps["features"]
    for name, analyzer in (("words", word_ngrams), ("chars", char_ngrams)):
        ours = union.named_transformers[name].named_steps["tfidf"]
        fitted = TfidfVectorizer(analyzer=analyzer, min_df=2, sublinear_tf=True).fit(texts)
        assert ours.vocabulary_ == fitted.vocabulary_
        np.testing.assert_allclose(ours.idf_, fitted.idf_, rtol=0, atol=1e-12)
        assert abs(ours.transform(texts[:50]) - fitted.transform(texts[:50])).max() < 1e-12


def test_shortcut_transform_equals_the_feature_union(streamed: tuple[TrainedModel, Source, list[str]]) -> None:
    union = streamed[0].model.pipeline_.named_steps["features"]
    rows = [_row(t, 1) for t in [*SPAM, *HAM]] + [
        LabelledComment(c, 0, "labels", "labels", "test") for c in ODD if isinstance(c, Comment)
    ]
    texts = [normalise(r.comment.text) for r in rows]
    assert abs(transform(union, rows, texts) - union.transform([r.comment for r in rows])).max() == 0
    weighted = copy.deepcopy(union).set_params(transformer_weights={"words": 0.5, "chars": 2.0, "signals": 3.0})
    assert abs(transform(weighted, rows, texts) - weighted.transform([r.comment for r in rows])).max() == 0


def test_lean_scorer_matches_the_pipeline(streamed: tuple[TrainedModel, Source, list[str]]) -> None:
    model = streamed[0].model
    comments: list[Comment | str] = [*SPAM, *HAM, *ODD, *(r.comment for r in separable(200, seed=7))]
    pipeline = model.predict_proba(comments)[:, 1]
    scorer = LeanScorer(model)
    assert np.abs(scorer.probabilities(comments) - pipeline).max() < 1e-6
    assert np.abs(np.array([scorer.probability(c) for c in comments]) - pipeline).max() < 1e-6


def test_reads_the_data_again_per_pass_and_never_holds_it(streamed: tuple[TrainedModel, Source, list[str]]) -> None:
    _, source, lines = streamed
    assert source.calls == 4  # counting, two epochs, calibration
    assert source.longest == 100
    # A chunk is let go once the next one arrives: at most two of the 20 are alive at once.
    assert source.most_alive <= 200
    assert any(line.startswith("pass 1") and "rows/s" in line for line in lines)
    assert any(line.startswith("pass 3/4") and "2,000 rows" in line for line in lines)


def test_ranks_held_out_rows_well(streamed: tuple[TrainedModel, Source, list[str]]) -> None:
    trained = streamed[0]
    held_out = list(separable(1000, seed=99))
    scores = trained.model.predict_proba([r.comment for r in held_out])[:, 1]
    assert roc_auc_score([r.label for r in held_out], scores) > 0.95
    calibration_auc = trained.validation["roc_auc"]
    assert isinstance(calibration_auc, float) and calibration_auc > 0.95
    assert trained.thresholds.review <= trained.thresholds.spam <= trained.thresholds.discard
    assert len(trained.model.oof_probability_) == trained.validation["n"]


def test_sample_weights_matter() -> None:
    contested = [f"quorvex blandu item {i}" for i in range(40)]

    def rows(spam_weight: float, ham_weight: float) -> list[LabelledComment]:
        base = list(separable(1000, seed=3))
        both = [_row(t, 1, spam_weight) for t in contested] + [_row(t, 0, ham_weight) for t in contested]
        return base[:500] + both + base[500:]

    probes = ["quorvex blandu", "quorvex blandu thing"]
    leaning = {}
    for name, weights in (("spam", (8.0, 1.0)), ("ham", (1.0, 8.0))):
        trained = fit_streaming(Source(functools.partial(rows, *weights), 200), log=lambda line: None)
        leaning[name] = trained.model.predict_proba(probes)[:, 1]
    assert np.all(leaning["spam"] > leaning["ham"] + 0.3)


def test_max_features_keeps_the_terms_in_most_documents() -> None:
    trained = fit_streaming(Source(lambda: separable(600, seed=5), 100), log=lambda line: None, max_features=20)
    texts = [
        t
        for t in TextNormaliser().transform(r.comment for r in separable(600, seed=5))
        if not in_calibration_slice(t, 0.1)
    ]
    union = trained.model.pipeline_.named_steps["features"]
    for name, analyzer in (("words", word_ngrams), ("chars", char_ngrams)):
        df = Counter(term for text in texts for term in set(analyzer(text)))
        top = sorted(df, key=lambda term: (-df[term], term))[:20]
        assert set(union.named_transformers[name].named_steps["tfidf"].vocabulary_) == set(top)


def test_a_pruned_count_still_makes_a_good_model() -> None:
    lines: list[str] = []
    trained = fit_streaming(Source(lambda: separable(1500, seed=8), 100), log=lines.append, max_terms=300)
    assert any("floor" in line and "(floor 0)" not in line for line in lines)  # the counters were pruned
    held_out = list(separable(500, seed=98))
    scores = LeanScorer(trained.model).probabilities([r.comment for r in held_out])
    assert roc_auc_score([r.label for r in held_out], scores) > 0.95


def test_alpha_matches_the_in_memory_regularisation_down_to_a_floor() -> None:
    assert default_alpha(10.0, 5_000) == pytest.approx(1 / 50_000)  # liblinear's C, restated for SGD
    assert default_alpha(10.0, 10_000_000) == ALPHA_FLOOR


def test_one_class_is_refused() -> None:
    with pytest.raises(ValueError, match="spam and ham"):
        fit_streaming(Source(lambda: [_row(t, 0) for t in HAM * 20], 50), log=lambda line: None)


def test_saves_and_loads(streamed: tuple[TrainedModel, Source, list[str]], tmp_path: Path) -> None:
    trained = streamed[0]
    card = {
        "name": "spamfilter",
        "version": "streamed-1",
        "feature_version": FEATURE_VERSION,
        "libraries": library_versions(),
        "thresholds": trained.thresholds.as_dict(),
        "training_data": {"files": []},
    }
    save_model(trained.model, card, tmp_path)
    loaded = load_model(tmp_path)
    comments = [*SPAM, *HAM]
    expected = trained.model.predict_proba(comments)[:, 1]
    assert np.abs(loaded.scorer.probabilities(comments) - expected).max() < 1e-6
    assert loaded.thresholds == trained.thresholds
    assert loaded.check(SPAM[0]).model_version == "streamed-1"
