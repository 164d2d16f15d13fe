"""Evaluation protocols whose test sides never share a near-duplicate with their training sides."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from training.dataset import Dataset

PROTOCOLS = ("random", "leave-one-video-out", "cross-corpus")


@dataclass(frozen=True)
class Split:
    """One train/test pair of a protocol, with how many test rows were dropped as near-duplicates."""

    protocol: str
    name: str
    train: np.ndarray
    test: np.ndarray
    dropped: int


def _honest(protocol: str, name: str, train: np.ndarray, test: np.ndarray, groups: np.ndarray) -> Split:
    """Drop test rows whose near-duplicate group also stands on the training side."""
    seen = np.isin(groups[test], groups[train])
    return Split(protocol, name, train, test[~seen], int(seen.sum()))


def random_split(dataset: Dataset, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """A stratified split that keeps each near-duplicate group on one side."""
    folds = StratifiedGroupKFold(n_splits=round(1 / test_fraction), shuffle=True, random_state=seed)
    train, test = next(folds.split(np.zeros(len(dataset.rows)), dataset.labels, dataset.groups))
    return _honest("random", "random 80/20", train, test, dataset.groups)


def leave_one_video_out(dataset: Dataset) -> Iterator[Split]:
    """Train on all YouTube videos but one, test on that one."""
    videos = np.array([r.group if r.corpus == "youtube" else "" for r in dataset.rows])
    for video in sorted(set(videos) - {""}):
        train = np.flatnonzero((videos != "") & (videos != video))
        test = np.flatnonzero(videos == video)
        yield _honest("leave-one-video-out", f"held out {video}", train, test, dataset.groups)


def cross_corpus(dataset: Dataset) -> Iterator[Split]:
    """Train on one corpus, test on another."""
    corpora = np.array([r.corpus for r in dataset.rows])
    names = sorted(set(corpora) & {"sms", "youtube"})
    for source in names:
        for target in names:
            if source != target:
                train, test = np.flatnonzero(corpora == source), np.flatnonzero(corpora == target)
                yield _honest("cross-corpus", f"{source} → {target}", train, test, dataset.groups)


def with_training_rows(split: Split, rows: np.ndarray, groups: np.ndarray) -> Split:
    """The split with `rows` added to its training side (and removed from its test side), kept honest."""
    train = np.union1d(split.train, rows)
    test = np.setdiff1d(split.test, rows)
    honest = _honest(split.protocol, split.name, train, test, groups)
    return Split(split.protocol, split.name, train, honest.test, split.dropped + honest.dropped)


def protocol_splits(dataset: Dataset, protocol: str) -> list[Split]:
    """Every split of a named protocol (empty when the data lacks what it needs)."""
    if protocol == "random":
        return [random_split(dataset)]
    if protocol == "leave-one-video-out":
        return list(leave_one_video_out(dataset))
    if protocol == "cross-corpus":
        return list(cross_corpus(dataset))
    raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
