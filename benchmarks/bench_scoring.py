"""Benchmark in-process scoring, bulk scoring and training; prints figures, asserts nothing.

Run: python benchmarks/bench_scoring.py [--data ../shared/data] [--model models]
Targets (issue 2): single comment <= 100 us median; bulk >= 10,000 comments/s on one core;
training on both corpora < 60 s.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
from pathlib import Path

from spamfilter.artifact import load_model
from spamfilter.bulk import score_csv
from training.dataset import load_dataset
from training.train import fit_model


def _median_us(function, repeats: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        function()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return statistics.median(samples)


def _csv_rates(model, comments) -> dict[int, float]:  # type: ignore[no-untyped-def]
    """End-to-end `spamfilter score` throughput on a CSV of the comments, with and without reasons."""
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        with source.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "author"])
            writer.writerows([c.text, c.author or ""] for c in comments)
        for reasons in (3, 0):
            started = time.perf_counter()
            written = score_csv(model, source, target, progress=False, reasons=reasons)
            rates[reasons] = written / (time.perf_counter() - started)
    return rates


def main() -> None:
    """Run every benchmark once and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says

    model = load_model(args.model)
    dataset = load_dataset([args.data], log=lambda message: None)
    comments = dataset.comments
    lengths = sorted(len(c.text) for c in comments)
    typical = statistics.median(lengths)
    # Comments of typical length: within 20 % of the median.
    sample = [c for c in comments if abs(len(c.text) - typical) <= 0.2 * typical][:500]

    for comment in comments:  # warm the per-word cache as a running service would be
        model.scorer.probability(comment)
    single = statistics.median(_median_us(lambda c=c: model.scorer.probability(c), 21) for c in sample)
    with_reasons = statistics.median(_median_us(lambda c=c: model.check(c), 5) for c in sample[:200])
    pipeline = statistics.median(_median_us(lambda c=c: model.model.predict_proba([c]), 3) for c in sample[:50])

    cold = load_model(args.model)  # a fresh scorer: its word cache starts empty
    started = time.perf_counter()
    cold.scorer.probabilities(comments)
    cold_rate = len(comments) / (time.perf_counter() - started)
    started = time.perf_counter()
    model.scorer.probabilities(comments)
    batch_rate = len(comments) / (time.perf_counter() - started)
    started = time.perf_counter()
    for comment in comments:
        model.check(comment, reasons=0)
    warm_rate = len(comments) / (time.perf_counter() - started)

    csv_rates = _csv_rates(model, comments)

    print(f"comments: {len(comments)}, typical length {typical:.0f} characters (median), one core")
    print(f"single comment, lean scorer, median:         {single:8.1f} us   (target <= 100 us)")
    print(f"single comment, with verdict and 5 reasons: {with_reasons:8.1f} us")
    ratio = pipeline / single
    print(f"single comment, scikit-learn pipeline:      {pipeline:8.1f} us   ({ratio:.0f}x the lean scorer)")
    print(f"bulk, batched, fresh scorer (cold cache):   {cold_rate:8.0f} comments/s (target >= 10,000)")
    print(f"bulk, batched, warm word cache:             {batch_rate:8.0f} comments/s")
    print(f"bulk, one at a time, with verdicts:         {warm_rate:8.0f} comments/s")
    for reasons, rate in csv_rates.items():
        print(f"spamfilter score (CSV in and out), {reasons} reasons: {rate:8.0f} comments/s")
    if not args.skip_training:
        trained = fit_model(dataset)
        print(f"training on both corpora (5 folds + final): {trained.seconds:8.1f} s   (target < 60 s)")


if __name__ == "__main__":
    main()
