"""No near-duplicate group ever stands on both sides of a split."""

from __future__ import annotations

import numpy as np
import pytest

from spamfilter.comment import Comment
from training.data import LabelledComment
from training.dataset import Dataset
from training.splits import PROTOCOLS, protocol_splits


def _dataset() -> Dataset:
    rows = []
    for i in range(200):
        corpus = "sms" if i < 80 else "youtube"
        group = "sms" if corpus == "sms" else ["Psy", "Katy", "LMFAO"][i % 3]
        rows.append(LabelledComment(Comment(f"comment {i}"), i % 2, corpus, group, f"f:{i}"))
    groups = np.arange(200)
    groups[10:20] = 10  # a campaign spanning both corpora and several videos
    groups[85:120] = 85
    return Dataset(rows, groups)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_groups_never_straddle(protocol: str) -> None:
    dataset = _dataset()
    splits = protocol_splits(dataset, protocol)
    assert splits
    for split in splits:
        assert not set(dataset.groups[split.train]) & set(dataset.groups[split.test])
        assert len(split.test) > 0


def test_protocol_shapes() -> None:
    dataset = _dataset()
    assert [s.name for s in protocol_splits(dataset, "leave-one-video-out")] == [
        "held out Katy",
        "held out LMFAO",
        "held out Psy",
    ]
    assert [s.name for s in protocol_splits(dataset, "cross-corpus")] == ["sms → youtube", "youtube → sms"]
    assert sum(s.dropped for s in protocol_splits(dataset, "leave-one-video-out")) > 0
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol_splits(dataset, "nope")
