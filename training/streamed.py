"""Retraining out of core: corpora and stored labels streamed chunk by chunk into `fit_streaming`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from spamfilter.artifact import LoadedModel
from spamfilter.normalise import normalise
from training.data import FileReport, LabelledComment
from training.outofcore import fit_streaming
from training.retrain import Candidate, Log, compare

CORPUS_CHUNK = 5000


def retrain_streaming(
    reports: list[FileReport],
    label_chunks: Callable[[], Iterable[Sequence[LabelledComment]]],
    held_back: list[LabelledComment],
    current: LoadedModel,
    params: dict[str, Any],
    traffic: list[dict[str, Any]],
    log: Log,
) -> Candidate:
    """Fit a candidate without holding the labelled set in memory, then compare it like `retrain` does.

    Near-duplicate grouping needs every text at once, so here honesty is kept the other way
    round: training rows whose normalised text is also held back are skipped (exact repeats).
    """
    held_texts = {normalise(r.comment.text).text for r in held_back}
    counts: Counter[str] = Counter()

    def chunks() -> Iterator[list[LabelledComment]]:
        counts.clear()  # every pass sees the same rows; the last one's counts stand
        corpus = [r for report in reports for r in report.rows]
        for start in range(0, len(corpus), CORPUS_CHUNK):
            yield _kept(corpus[start : start + CORPUS_CHUNK], held_texts, counts)
        for chunk in label_chunks():
            yield _kept(chunk, held_texts, counts)

    trained = fit_streaming(chunks, params, log=log)
    log(f"fitted out of core in {trained.seconds:.1f}s; thresholds {trained.thresholds.as_dict()}")
    summary = {
        "files": [f.summary() for f in reports],
        "streamed": True,
        "rows_kept": counts["rows"],
        "spam": counts["spam"],
        "ham": counts["rows"] - counts["spam"],
        "stored_labels": counts["stored"],
        "skipped_as_held_back": counts["skipped"],
    }
    labels = {"train": counts["stored"], "held_back": len(held_back), "held_back_spam": sum(r.label for r in held_back)}
    comparison, evaluation = compare(current, trained, held_back, 0, traffic, labels, None, log)
    return Candidate(summary, trained, None, comparison, evaluation)


def _kept(rows: Sequence[LabelledComment], held_texts: set[str], counts: Counter[str]) -> list[LabelledComment]:
    kept = []
    for row in rows:
        if held_texts and normalise(row.comment.text).text in held_texts:
            counts["skipped"] += 1
            continue
        kept.append(row)
        counts["rows"] += 1
        counts["spam"] += row.label
        counts["stored"] += row.corpus == "stored"
    return kept
