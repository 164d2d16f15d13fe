"""Labels read out for retraining: in chunks, withdrawn ones left out, recent ones per site held back."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from service.labelexport import holdout_cutoffs, iter_labels
from service.labels import record_label, undo_label
from training.labels import split_labels


def _label(app: Flask, site: str, text: str, label: str) -> int:
    with app.extensions["spamfilter.sessions"]() as session:
        return record_label(session, label, {"text": text, "site": site}, "moderator", "alice").id


def test_labels_come_in_chunks_without_withdrawn_ones(app: Flask) -> None:
    site = "https://chunks.example"
    ids = [_label(app, site, f"chunked comment number {n}", "spam" if n % 3 else "ham") for n in range(11)]
    with app.extensions["spamfilter.sessions"]() as session:
        undo_label(session, ids[4], site, "alice")  # withdrawn: no longer a label to learn from
    chunks = [
        [r for r in chunk if r["site"] == site] for chunk in iter_labels(app.extensions["spamfilter.engine"], chunk=4)
    ]
    assert max(len(c) for c in chunks) <= 4
    rows = [r for c in chunks for r in c]
    assert [r["id"] for r in rows] == [i for i in ids if i != ids[4]]
    assert {r["label"] for r in rows} == {"spam", "ham"}
    assert all(r["updated_at"].tzinfo is not None for r in rows)


def test_the_window_leaves_out_older_labels(app: Flask) -> None:
    site = "https://window.example"
    _label(app, site, "a comment inside the window", "ham")
    engine = app.extensions["spamfilter.engine"]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert not [r for c in iter_labels(engine, since=future) for r in c if r["site"] == site]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    assert [r["text"] for c in iter_labels(engine, since=past) for r in c if r["site"] == site] == [
        "a comment inside the window"
    ]


def test_each_site_holds_back_its_most_recent_share(app: Flask) -> None:
    sites = {"https://big.example": 10, "https://small.example": 5, "https://single.example": 1}
    for site, count in sites.items():
        for n in range(count):
            _label(app, site, f"{site} comment {n}", "spam" if n % 2 else "ham")
    engine = app.extensions["spamfilter.engine"]
    cutoffs = holdout_cutoffs(engine, None, 0.2)
    assert "https://single.example" not in cutoffs  # one label: nothing to hold back and still learn from
    rows = split_labels(iter_labels(engine, chunk=3), cutoffs, weight=3.0)
    held = {}
    for row in rows.held_back:
        held.setdefault(row.comment.site, []).append(row.comment.text)
    assert held["https://big.example"] == ["https://big.example comment 8", "https://big.example comment 9"]
    assert held["https://small.example"] == ["https://small.example comment 4"]
    assert all(r.weight == 3.0 and r.corpus == "stored" for r in rows.train + rows.held_back)
