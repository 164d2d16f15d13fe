"""Out-of-core training: the same model, fitted on labelled data streamed chunk by chunk.

`fit_streaming` never holds the whole set: it asks `chunks()` for the data again on every pass.
Pass 1 counts document frequencies in bounded memory (see `DocumentFrequencies`), the vocabulary
and idf follow from them, the next passes fit a logistic regression by SGD chunk by chunk, and a
last pass over a held-out calibration slice fits the Platt scaling and chooses the thresholds.
The result is an ordinary `CalibratedSpamModel`, so the lean scorer, `save_model` and `load_model`
take it as they take an in-memory one.

Where it differs from `fit_model`: the vocabulary is capped at `max_features` terms per block by
document frequency (TfidfVectorizer would rank by total count), and df may be undercounted once a
counter has been pruned; the classifier is SGD for a few epochs rather than liblinear to
convergence; calibration and thresholds come from a held-out slice instead of out-of-fold
predictions, so the final model is fitted on the other rows only. `partial_fit` shuffles within a
chunk but cannot across chunks: chunks should not come sorted by label.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from spamfilter.features import char_ngrams, compute_signals, word_ngrams
from spamfilter.model import DEFAULT_PARAMS, CalibratedSpamModel, build_pipeline
from spamfilter.normalise import Normalised, normalise
from spamfilter.tiers import Targets, choose_thresholds
from training.data import LabelledComment
from training.metrics import summarise
from training.train import Log, TrainedModel

Chunks = Callable[[], Iterable[Sequence[LabelledComment]]]
# Per block, several times the in-memory model's vocabulary on both corpora (16k words, 27k n-grams).
MAX_FEATURES = 200_000
# Terms tracked per counter: about 100-150 MB each at the bound (twice that for a moment while
# pruning), and 5x MAX_FEATURES, so a prune still keeps 2.5x the terms the vocabulary can take.
MAX_TERMS = 1_000_000
# SGD's "optimal" step ends near 1 / (alpha * steps) = C / epochs with alpha = 1 / (C rows), however
# many rows: a floor makes the steps shrink on big sets, where 1 / (C rows) also under-regularises
# (1M synthetic rows: held-out ROC-AUC 0.9886 at 1 / (C rows) = 1.1e-7, 0.9912 at 1e-6).
ALPHA_FLOOR = 1e-6
LOG_EVERY = 10  # chunks
_BLOCKS = ("words", "chars", "signals")
_CLASSES = np.array([0, 1])


class DocumentFrequencies:
    """Document frequencies in bounded memory: lossy counting (Manku & Motwani, 2002) with a size bound.

    At most `max_terms` terms are tracked. When a document takes the count past that bound, the
    terms with the lowest upper bounds are dropped until at most half remain, and `floor` rises
    to the largest upper bound dropped. A term seen again after being dropped starts counting anew
    with `floor` as its slack. So a tracked term's true df lies in [count, count + slack] with
    slack <= floor, and an untracked term's true df is at most `floor`: terms far more frequent than
    the floor are counted exactly or almost, and nothing is lost while the bound is never reached.
    """

    def __init__(self, max_terms: int = MAX_TERMS):
        self.max_terms = max_terms
        self.counts: dict[str, int] = {}
        self.slack: dict[str, int] = {}  # only terms (re)inserted after a prune
        self.floor = 0
        self.documents = 0
        self.prunes = 0

    def add(self, terms: Iterable[str]) -> None:
        """Count one document's terms (each once)."""
        counts, floor = self.counts, self.floor
        for term in set(terms):
            if term in counts:
                counts[term] += 1
            else:
                counts[term] = 1
                if floor:
                    self.slack[term] = floor
        self.documents += 1
        if len(counts) > self.max_terms:
            self._prune()

    def _prune(self) -> None:
        slack = self.slack
        upper = np.fromiter((c + slack.get(t, 0) for t, c in self.counts.items()), np.int64, len(self.counts))
        keep = self.max_terms // 2
        # Dropping every term at or below the (keep + 1)-th largest upper bound leaves at most `keep`.
        threshold = int(np.partition(upper, len(upper) - keep - 1)[len(upper) - keep - 1])
        self.counts = {t: c for (t, c), u in zip(self.counts.items(), upper.tolist()) if u > threshold}
        self.slack = {t: s for t, s in slack.items() if t in self.counts}
        self.floor = max(self.floor, threshold)
        self.prunes += 1

    def frequent(self, min_df: int, max_features: int) -> dict[str, int]:
        """The `max_features` terms of highest counted df at least `min_df` (ties alphabetically)."""
        kept = [(-c, t) for t, c in self.counts.items() if c >= min_df]
        kept.sort()
        return {t: -c for c, t in kept[:max_features]}


def in_calibration_slice(normalised_text: str, share: float) -> bool:
    """Whether a row is held out for calibration: a stable hash, so repeats land on the same side."""
    digest = hashlib.blake2b(normalised_text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") < share * 2.0**64


def install_vocabulary(tfidf: TfidfVectorizer, df: dict[str, int], documents: int) -> None:
    """Make a TfidfVectorizer transform as if fitted: columns in term order, smoothed idf from df."""
    terms = sorted(df)
    tfidf.vocabulary_ = {t: i for i, t in enumerate(terms)}
    counts = np.fromiter((df[t] for t in terms), np.float64, len(terms))
    tfidf.idf_ = np.log((1.0 + documents) / (1.0 + counts)) + 1.0  # TfidfTransformer, smooth_idf=True
    tfidf.fixed_vocabulary_ = False  # as after fit: the vocabulary was learned, not given
    tfidf._tfidf.n_features_in_ = len(terms)  # as after fit, so a matrix of another width is refused


def transform(union: FeatureUnion, rows: Sequence[LabelledComment], texts: Sequence[Normalised]) -> sp.csr_matrix:
    """`union.transform` of the rows, reusing their normalised texts instead of normalising thrice."""
    weights = union.transformer_weights or {}
    plain = [n.text for n in texts]
    blocks = [union.named_transformers[name].named_steps["tfidf"].transform(plain) for name in _BLOCKS[:2]]
    signals = [compute_signals(r.comment, n) for r, n in zip(rows, texts, strict=True)]
    blocks.append(sp.csr_matrix(np.asarray(signals, np.float64).reshape(len(rows), -1)))
    # FeatureUnion multiplies each block by its weight and stacks them side by side.
    return sp.hstack([b * weights.get(name, 1.0) for b, name in zip(blocks, _BLOCKS)], format="csr")


def _read(
    chunks: Chunks, share: float, log: Log, name: str
) -> Iterator[tuple[Sequence[LabelledComment], list[Normalised], list[bool]]]:
    """Each chunk, its texts normalised (once), and which rows are held out; progress every few chunks."""
    started, rows = time.perf_counter(), 0

    def say(suffix: str = "") -> None:
        log(f"{name}: {rows:,} rows{suffix}, {rows / max(time.perf_counter() - started, 1e-9):,.0f} rows/s")

    for number, chunk in enumerate(chunks()):
        if number and number % LOG_EVERY == 0:
            say()
        texts = [normalise(r.comment.text) for r in chunk]
        yield chunk, texts, [in_calibration_slice(n.text, share) for n in texts]
        rows += len(chunk)
    say(", done")


def _count(
    chunks: Chunks, share: float, max_terms: int, log: Log
) -> tuple[DocumentFrequencies, DocumentFrequencies, np.ndarray]:
    """Pass 1: document frequencies of the fitting rows, and rows and spam per side."""
    words, chars = DocumentFrequencies(max_terms), DocumentFrequencies(max_terms)
    sizes = np.zeros((2, 2), np.int64)  # [fitting, calibration] x [ham, spam]
    for chunk, texts, held in _read(chunks, share, log, "pass 1 (counting)"):
        for row, text, h in zip(chunk, texts, held):
            sizes[int(h), row.label] += 1
            if not h:
                words.add(word_ngrams(text.text))
                chars.add(char_ngrams(text.text))
    return words, chars, sizes


def _batches(
    chunks: Chunks, share: float, union: FeatureUnion, held_out: bool, log: Log, name: str
) -> Iterator[tuple[sp.csr_matrix, np.ndarray, np.ndarray]]:
    """Features, labels and weights of the rows on one side (fitting or held out), chunk by chunk."""
    for chunk, texts, held in _read(chunks, share, log, name):
        index = [i for i, h in enumerate(held) if h == held_out]
        if index:
            rows = [chunk[i] for i in index]
            labels = np.fromiter((r.label for r in rows), np.int64, len(rows))
            weights = np.fromiter((r.weight for r in rows), np.float64, len(rows))
            yield transform(union, rows, [texts[i] for i in index]), labels, weights


def _install_vocabularies(
    union: FeatureUnion, counters: dict[str, DocumentFrequencies], min_df: int, max_features: int, log: Log
) -> None:
    """Each TF-IDF block's vocabulary and idf from its counted document frequencies."""
    for name, counter in counters.items():
        df = counter.frequent(min_df, max_features)
        if not df:
            raise ValueError(f"no {name} term reaches min_df={min_df}")
        install_vocabulary(union.named_transformers[name].named_steps["tfidf"], df, counter.documents)
        log(f"{name}: {len(df):,} terms kept of {len(counter.counts):,} tracked (floor {counter.floor})")


def _calibrated(
    template: Pipeline, pipeline: Pipeline, decisions: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> CalibratedSpamModel:
    """The fitted pipeline with Platt scaling fitted as CalibratedSpamModel fits it, on the slice's decisions."""
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(decisions.reshape(-1, 1), labels, sample_weight=weights)
    model = CalibratedSpamModel(template)  # its estimator: the pipeline fitted here, unfitted
    model.calibration_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
    model.oof_decision_ = decisions  # held out rather than out-of-fold, but as honest
    model.oof_probability_ = np.asarray(expit(model.calibration_[0] * decisions + model.calibration_[1]))
    model.pipeline_ = pipeline
    model.classes_ = _CLASSES
    return model


def fit_streaming(
    chunks: Chunks,
    params: dict[str, Any] | None = None,
    targets: Targets | None = None,
    log: Log = print,
    epochs: int = 2,
    max_features: int = MAX_FEATURES,
    calibration_share: float = 0.1,
    alpha: float | None = None,
    max_terms: int = MAX_TERMS,
) -> TrainedModel:
    """Fit the calibrated model on rows read chunk by chunk; `chunks()` re-reads them from the start."""
    if epochs < 1 or not 0 < calibration_share < 1:
        raise ValueError("epochs must be at least 1 and calibration_share strictly between 0 and 1")
    started = time.perf_counter()
    params = {**DEFAULT_PARAMS, **(params or {})}
    words, chars, sizes = _count(chunks, calibration_share, max_terms, log)
    if sizes.min() == 0:
        raise ValueError(f"both sides need spam and ham; [fitting, calibration] x [ham, spam] rows: {sizes.tolist()}")
    pipeline = build_pipeline(**params)
    union = pipeline.named_steps["features"]
    if tuple(name for name, _ in union.transformer_list) != _BLOCKS:
        raise ValueError(f"streaming needs the feature blocks {_BLOCKS}")
    _install_vocabularies(union, {"words": words, "chars": chars}, params["min_df"], max_features, log)
    del words, chars  # the counters are the biggest thing held; the passes to come need them no more
    classifier = SGDClassifier(
        loss="log_loss",
        alpha=alpha if alpha is not None else default_alpha(params["C"], int(sizes[0].sum())),
        class_weight=_class_weight(params.get("class_weight"), sizes[0]),
        random_state=0,
    )
    pipeline.set_params(classifier=classifier)
    template = clone(pipeline)
    for epoch in range(epochs):
        name = f"pass {epoch + 2}/{epochs + 2} (fitting, epoch {epoch + 1}/{epochs})"
        for X, y, w in _batches(chunks, calibration_share, union, False, log, name):
            # partial_fit shuffles the rows of the chunk it is given, not across chunks.
            classifier.partial_fit(X, y, classes=_CLASSES, sample_weight=w)
    name = f"pass {epochs + 2}/{epochs + 2} (calibration slice)"
    held = [
        (classifier.decision_function(X), y, w)
        for X, y, w in _batches(chunks, calibration_share, union, True, log, name)
    ]
    decisions, labels, weights = (np.concatenate(part) for part in zip(*held, strict=True))
    model = _calibrated(template, pipeline, decisions, labels, weights)
    thresholds = choose_thresholds(labels, model.oof_probability_, targets or Targets())
    verdicts = [thresholds.verdict(p).value for p in model.oof_probability_]
    validation = summarise(labels, model.oof_probability_, verdicts)
    return TrainedModel(model, thresholds, validation, time.perf_counter() - started)


def default_alpha(C: float, rows: int) -> float:
    """The in-memory model's regularisation for the same C, but never below ALPHA_FLOOR."""
    # 0.5|w|^2 + C * sum of losses, divided by C * rows, is SGDClassifier's objective with alpha = 1 / (C rows).
    return max(1.0 / (C * rows), ALPHA_FLOOR)


def _class_weight(setting: str | None, sizes: np.ndarray) -> dict[int, float] | None:
    """`balanced` as scikit-learn computes it, from the counted rows (partial_fit cannot count them)."""
    if setting != "balanced":
        return None
    return {label: float(sizes.sum() / (2 * sizes[label])) for label in (0, 1)}
