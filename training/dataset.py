"""A deduplicated labelled dataset with near-duplicate groups, built from data files."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from spamfilter.comment import Comment
from spamfilter.normalise import normalise
from training.data import FileReport, LabelledComment, expand_paths, read_file

NEAR_DUPLICATE_JACCARD = 0.7
_CHUNK = 2000


@dataclass
class Dataset:
    """Unique labelled comments, each with the id of its near-duplicate group."""

    rows: list[LabelledComment]
    groups: np.ndarray
    files: list[FileReport] = field(default_factory=list)
    duplicates_removed: int = 0
    conflicts_removed: int = 0

    @property
    def comments(self) -> list[Comment]:
        """The comments, in row order."""
        return [r.comment for r in self.rows]

    @property
    def labels(self) -> np.ndarray:
        """1 for spam, 0 for ham, in row order."""
        return np.fromiter((r.label for r in self.rows), dtype=int, count=len(self.rows))

    @property
    def weights(self) -> np.ndarray | None:
        """Per-row fitting weights, or None when every row weighs 1."""
        weights = np.fromiter((r.weight for r in self.rows), dtype=float, count=len(self.rows))
        return None if bool(np.all(weights == 1.0)) else weights

    def subset(self, index: np.ndarray) -> Dataset:
        """The rows at `index`, keeping their groups."""
        return Dataset([self.rows[i] for i in index], self.groups[index], self.files)

    def summary(self) -> dict[str, object]:
        """Counts for the log and the model card."""
        spam = int(self.labels.sum())
        return {
            "files": [f.summary() for f in self.files],
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_rejected": sum(len(f.rejected) for f in self.files),
            "duplicates_removed": self.duplicates_removed,
            "label_conflicts_removed": self.conflicts_removed,
            "rows_kept": len(self.rows),
            "spam": spam,
            "ham": len(self.rows) - spam,
            "near_duplicate_groups": len(np.unique(self.groups)),
        }


def deduplicate(rows: list[LabelledComment]) -> tuple[list[LabelledComment], int, int]:
    """Keep one row per normalised text; drop texts labelled both ways (they teach nothing)."""
    by_text: dict[str, list[LabelledComment]] = defaultdict(list)
    for row in rows:
        by_text[normalise(row.comment.text).text].append(row)
    kept: list[LabelledComment] = []
    conflicts = 0
    for same in by_text.values():
        if len({r.label for r in same}) > 1:
            conflicts += len(same)
            continue
        kept.append(same[0])
    return kept, len(rows) - len(kept) - conflicts, conflicts


def near_duplicate_groups(texts: list[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> np.ndarray:
    """Group ids joining texts whose character 5-gram sets overlap (Jaccard) at `threshold` or more."""
    vectoriser = HashingVectorizer(
        analyzer="char", ngram_range=(5, 5), n_features=1 << 22, binary=True, norm=None, alternate_sign=False
    )
    shingles = sp.csr_matrix(vectoriser.transform([normalise(t).text for t in texts]))
    sizes = np.asarray(shingles.sum(axis=1)).ravel()
    parent = np.arange(len(texts))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return int(i)

    for start in range(0, len(texts), _CHUNK):
        overlap = sp.coo_matrix(shingles[start : start + _CHUNK] @ shingles.T)
        rows = overlap.row + start
        union = sizes[rows] + sizes[overlap.col] - overlap.data
        close = (overlap.data >= threshold * np.maximum(union, 1)) & (rows < overlap.col)
        for a, b in zip(rows[close], overlap.col[close], strict=True):
            parent[find(int(a))] = find(int(b))
    return np.array([find(i) for i in range(len(texts))])


def load_dataset(paths: list[Path], log: Callable[[str], None] | None = None) -> Dataset:
    """Read every file, report rejected rows by file and line, deduplicate and group."""
    say = log or (lambda message: print(message, file=sys.stderr))
    reports = [read_file(path) for path in expand_paths(paths)]
    rows: list[LabelledComment] = []
    for report in reports:
        for error in report.rejected:
            say(f"rejected {error}")
        say(f"read {report.path}: {report.rows_read} rows, {len(report.rejected)} rejected")
        rows.extend(report.rows)
    kept, duplicates, conflicts = deduplicate(rows)
    groups = near_duplicate_groups([r.comment.text for r in kept])
    dataset = Dataset(kept, groups, reports, duplicates, conflicts)
    s = dataset.summary()
    say(
        f"loaded {s['rows_read']} rows from {len(reports)} files: {s['rows_rejected']} rejected, "
        f"{duplicates} duplicates and {conflicts} label conflicts removed, {s['rows_kept']} kept "
        f"({s['spam']} spam, {s['ham']} ham) in {s['near_duplicate_groups']} near-duplicate groups"
    )
    return dataset
