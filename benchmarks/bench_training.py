"""Benchmark in-memory and out-of-core training on synthetic comments; prints figures, asserts nothing.

Run: python benchmarks/bench_training.py [--sizes 10000,100000,1000000] [--memory-size 10000]
Comments are synthesised from the real corpora (`--data`): each joins the start of one comment to
the end of another of the same label, with small perturbations (a typo, a swapped or dropped word,
a word in capitals). They are regenerated chunk by chunk from a seed, so a million never sit in
memory. The corpora are split first (grouped 80/20): training comments are made from one side, and
the held-out figures come from the other, synthetic and real alike. Each measurement runs in its
own process, so its peak RSS (getrusage) is its own; the peak before fitting (imports, the source
comments) is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from spamfilter.comment import Comment
from spamfilter.scorer import LeanScorer
from training.data import LabelledComment, read_file
from training.dataset import Dataset, load_dataset
from training.outofcore import MAX_TERMS, fit_streaming
from training.splits import random_split
from training.train import TrainedModel, fit_model

CHUNK = 10_000
HELD_OUT = 5_000


def _mix(rng: random.Random, pool: list[Comment]) -> Comment:
    """The start of one comment joined to the end of another, perhaps slightly changed."""
    a, b = rng.choice(pool), rng.choice(pool)
    head, tail = a.text.split(), b.text.split()
    words = head[: rng.randint(1, len(head))] + tail[rng.randint(0, len(tail) - 1) :]
    if len(words) > 1 and rng.random() < 0.2:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    if len(words) > 2 and rng.random() < 0.2:
        del words[rng.randrange(len(words))]
    if rng.random() < 0.2:
        i = rng.randrange(len(words))
        j = rng.randrange(len(words[i]))
        words[i] = words[i][:j] + rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") + words[i][j + 1 :]
    if rng.random() < 0.1:
        i = rng.randrange(len(words))
        words[i] = words[i].upper()
    return Comment(" ".join(words), author=a.author)


class Synthetic:
    """A deterministic stream of synthetic labelled comments, regenerated on every call."""

    def __init__(self, rows: list[LabelledComment], size: int, seed: int, chunk: int = CHUNK):
        self.spam = [r.comment for r in rows if r.label]
        self.ham = [r.comment for r in rows if not r.label]
        self.share = len(self.spam) / len(rows)
        self.size, self.seed, self.chunk = size, seed, chunk

    def __call__(self) -> Iterator[list[LabelledComment]]:
        for start in range(0, self.size, self.chunk):
            rng = random.Random(f"{self.seed}:{start}")  # each chunk from its own seed: same rows every call
            rows = []
            for number in range(start, min(start + self.chunk, self.size)):
                label = int(rng.random() < self.share)
                comment = _mix(rng, self.spam if label else self.ham)
                rows.append(LabelledComment(comment, label, "synthetic", "synthetic", f"synthetic:{number}"))
            yield rows


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _auc(trained: TrainedModel, rows: list[LabelledComment]) -> float:
    scores = LeanScorer(trained.model).probabilities([r.comment for r in rows])
    return float(roc_auc_score([r.label for r in rows], scores))


def write_sources(data: Path, seed: int, directory: Path) -> None:
    """The corpora split 80/20 with near-duplicates kept on one side, as train.jsonl and test.jsonl."""
    dataset = load_dataset([data], log=lambda message: None)
    split = random_split(dataset, seed=seed)
    for name, index in (("train", split.train), ("test", split.test)):
        with (directory / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for row in dataset.subset(index).rows:
                record = {"text": row.comment.text, "author": row.comment.author, "label": row.label}
                handle.write(json.dumps(record) + "\n")


def measure(kind: str, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """One fit (`memory` or `streamed`) of `size` synthetic rows, with its figures."""
    train, test = (read_file(args.sources / f"{name}.jsonl").rows for name in ("train", "test"))
    stream = Synthetic(train, size, args.seed, args.chunk)
    held_out = next(iter(Synthetic(test, HELD_OUT, args.seed + 1, HELD_OUT)()))
    lines: list[str] = []

    def log(message: str) -> None:
        print(f"  [{kind} {size:,}] {message}", file=sys.stderr, flush=True)
        lines.append(message)

    base = _max_rss_mb()
    if kind == "memory":
        rows = [row for chunk in stream() for row in chunk]
        trained = fit_model(Dataset(rows, np.arange(len(rows))))
    else:
        trained = fit_streaming(stream, log=log, epochs=args.epochs, max_terms=args.max_terms)
    rss = _max_rss_mb()  # before scoring the held-out rows, which costs memory of its own
    features = trained.model.pipeline_.named_steps["features"]
    return {
        "kind": kind,
        "size": size,
        "seconds": trained.seconds,
        "rss_mb": rss,
        "base_rss_mb": base,
        "vocabulary": [
            len(features.named_transformers[n].named_steps["tfidf"].vocabulary_) for n in ("words", "chars")
        ],
        "auc_synthetic": _auc(trained, held_out),
        "auc_real": _auc(trained, test),
        "auc_calibration_slice": trained.validation.get("roc_auc"),
        "notes": [line for line in lines if "terms kept" in line],
    }


def main() -> None:
    """Run each measurement in a fresh process and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sizes", default="10000,100000,1000000", help="streamed sizes, comma-separated")
    parser.add_argument("--memory-size", type=int, default=10_000, help="in-memory fit_model size (0 skips)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=CHUNK)
    parser.add_argument("--max-terms", type=int, default=MAX_TERMS, help="terms each df counter tracks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # "kind:size", run in a child process
    parser.add_argument("--sources", type=Path, help=argparse.SUPPRESS)  # the parent's split, for children
    args = parser.parse_args()
    if args.one:
        kind, size = args.one.split(":")
        if kind == "sources":
            write_sources(args.data, args.seed, args.sources)
        else:
            print(json.dumps(measure(kind, int(size), args)))
        return

    runs = [("memory", args.memory_size)] if args.memory_size else []
    runs += [("streamed", int(s)) for s in args.sizes.split(",") if s]
    results = []
    with tempfile.TemporaryDirectory() as sources:
        # Children inherit the parent's peak RSS (getrusage keeps it across fork and exec), so the
        # parent never loads data itself: even the split is written by a child.
        for kind, size in [("sources", 0), *runs]:
            command = [sys.executable, __file__, "--one", f"{kind}:{size}", "--sources", sources]
            command += ["--data", str(args.data), "--epochs", str(args.epochs), "--chunk", str(args.chunk)]
            command += ["--seed", str(args.seed), "--max-terms", str(args.max_terms)]
            started = time.perf_counter()
            output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
            if kind != "sources":
                results.append(json.loads(output.strip().splitlines()[-1]))
                print(f"  {kind} {size:,}: {time.perf_counter() - started:.0f}s in all", file=sys.stderr)

    print(
        f"synthetic comments from {args.data}; streamed: {args.epochs} epochs, chunks of {args.chunk:,}, "
        f"df counters of at most {args.max_terms:,} terms"
    )
    print(
        f"{'method':<10} {'rows':>10} {'seconds':>8} {'rows/s':>8} {'peak RSS MB':>12} {'(before fit)':>12} "
        f"{'vocabulary words+chars':>23} {'AUC held-out synth':>18} {'AUC real held-out':>17}"
    )
    for r in results:
        vocabulary = f"{r['vocabulary'][0]:,}+{r['vocabulary'][1]:,}"
        print(
            f"{r['kind']:<10} {r['size']:>10,} {r['seconds']:>8.1f} {r['size'] / r['seconds']:>8,.0f} "
            f"{r['rss_mb']:>12,.0f} {r['base_rss_mb']:>12,.0f} {vocabulary:>23} "
            f"{r['auc_synthetic']:>18.4f} {r['auc_real']:>17.4f}"
        )
        for note in r["notes"]:
            print(f"{'':<10} {'':>10}   {note}")


if __name__ == "__main__":
    main()
