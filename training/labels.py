"""Stored labels (moderators', feedback's) as training rows, weighted, with recent ones held back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from spamfilter.comment import Comment, parse_label
from training.data import LabelledComment

Cutoffs = Mapping[str | None, tuple[dt.datetime, int]]


@dataclass
class LabelRows:
    """Stored labels split into the rows a candidate trains on and the recent ones held back."""

    train: list[LabelledComment] = field(default_factory=list)
    held_back: list[LabelledComment] = field(default_factory=list)
    rejected: int = 0

    def summary(self) -> dict[str, int]:
        """Counts for the log, the card and the report."""
        return {
            "train": len(self.train),
            "train_spam": sum(r.label for r in self.train),
            "held_back": len(self.held_back),
            "held_back_spam": sum(r.label for r in self.held_back),
            "rejected": self.rejected,
        }


def label_row(record: Mapping[str, Any], weight: float) -> LabelledComment:
    """One stored label as a training row, grouped by its site (what per-site evaluation splits on)."""
    comment = Comment.from_mapping(record)  # only the comment's own fields are read
    if not comment.text.strip():
        raise ValueError("empty text")
    site = record.get("site") or "labels"
    return LabelledComment(comment, parse_label(record["label"]), "stored", site, f"label:{record['id']}", weight)


def is_held_back(record: Mapping[str, Any], cutoffs: Cutoffs) -> bool:
    """Whether a stored label is among its site's most recent ones, kept for evaluation."""
    cutoff = cutoffs.get(record.get("site"))
    return cutoff is not None and (record["updated_at"], record["id"]) >= cutoff


def split_labels(chunks: Iterable[list[dict[str, Any]]], cutoffs: Cutoffs, weight: float) -> LabelRows:
    """Read label chunks into rows: labels at or after their site's cutoff are held back for evaluation."""
    rows = LabelRows()
    for chunk in chunks:
        for record in chunk:
            try:
                row = label_row(record, weight)
            except (ValueError, TypeError):
                rows.rejected += 1  # such as a text emptied by a later edit: nothing to learn from
                continue
            (rows.held_back if is_held_back(record, cutoffs) else rows.train).append(row)
    return rows


def stream_labels(
    chunks: Iterable[list[dict[str, Any]]], cutoffs: Cutoffs, weight: float, held_back: bool
) -> Iterator[list[LabelledComment]]:
    """One side of the split (training or held back), chunk by chunk, for sets too big to hold."""
    for chunk in chunks:
        rows = []
        for record in chunk:
            if is_held_back(record, cutoffs) != held_back:
                continue
            try:
                rows.append(label_row(record, weight))
            except (ValueError, TypeError):
                continue
        yield rows
