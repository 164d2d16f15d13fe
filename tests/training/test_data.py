"""Loaders read every supported format and report each bad row by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_jsonl, write_labelled_csv
from training.data import DataError, read_file
from training.dataset import deduplicate, load_dataset, near_duplicate_groups

YOUTUBE = """COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS
a1,Ann,2014-01-01,"Check out my channel, please!",1
a2,Bob,,"Nice song
with two lines",0
a3,Cy,too-few
a4,Di,2014-01-03,"label is wrong",7
"""


def test_youtube_reader_keeps_good_rows_and_reports_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "Youtube09-Test.csv"
    path.write_text(YOUTUBE, encoding="utf-8")
    report = read_file(path)
    assert report.format == "youtube" and report.rows_read == 4
    assert [r.comment.text for r in report.rows] == ["Check out my channel, please!", "Nice song\nwith two lines"]
    assert [r.group for r in report.rows] == ["Test", "Test"]
    assert [(e.line, e.message) for e in report.rejected] == [
        (5, "expected 5 fields, found 3"),
        (6, "label must be spam, ham, 1 or 0, not '7'"),
    ]
    assert str(report.rejected[0]).startswith(f"{path}:5:")


def test_sms_reader(tmp_path: Path) -> None:
    path = tmp_path / "SMSSpamCollection"
    path.write_text("ham\tSee you later\nspam\tWIN cash now\nno tab here\nmaybe\tunknown label\n", encoding="utf-8")
    report = read_file(path)
    assert [(r.label, r.comment.text) for r in report.rows] == [(0, "See you later"), (1, "WIN cash now")]
    assert [(e.line, e.message) for e in report.rejected] == [
        (3, "expected label<TAB>text"),
        (4, "label must be spam, ham, 1 or 0, not 'maybe'"),
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"text": "", "label": "spam"}, "empty text"),
        ({"text": "hello", "label": "maybe"}, "label must be spam, ham, 1 or 0"),
        ({"text": "x" * 100_001, "label": "ham"}, "longer than"),
    ],
)
def test_labelled_csv_rejects_bad_rows(tmp_path: Path, row: dict[str, str], message: str) -> None:
    path = write_labelled_csv(tmp_path / "l.csv", [{"text": "good", "label": "ham"}, row])
    report = read_file(path)
    assert len(report.rows) == 1 and report.rejected[0].line == 3
    assert message in report.rejected[0].message


def test_labelled_csv_keeps_context(tmp_path: Path) -> None:
    path = write_labelled_csv(
        tmp_path / "l.csv", [{"text": "hi", "label": "1", "author_url": "http://x.com", "site": "news.example"}]
    )
    row = read_file(path).rows[0]
    assert (row.label, row.comment.author_url, row.comment.site, row.group) == (
        1,
        "http://x.com",
        "news.example",
        "news.example",
    )


def test_jsonl_reports_invalid_lines(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "l.jsonl", [{"text": "ok", "label": "ham"}, "{not json", [1, 2], {"text": "spam!", "label": "SPAM "}]
    )
    report = read_file(path)
    assert [r.label for r in report.rows] == [0, 1]
    assert [e.line for e in report.rejected] == [2, 3]
    assert report.rejected[0].message.startswith("invalid JSON")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", "a,b\n1,2\n", "needs the columns text and label"),
        ("bad.txt", "hello", "unknown format"),
        ("Youtube.csv", "COMMENT_ID,AUTHOR\n", "expected the header"),
    ],
)
def test_unreadable_files_raise_data_error(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_file(path)


def test_non_utf8_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"text,label\n\xff\xfe,ham\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_file(path)


def test_load_dataset_summarises_and_deduplicates(tmp_path: Path) -> None:
    rows = [
        {"text": "Buy now at pills.com", "label": "spam"},
        {"text": "BUY NOW at pills.com", "label": "spam"},  # same once normalised
        {"text": "hello there", "label": "ham"},
        {"text": "Hello there", "label": "spam"},  # conflicting labels: dropped, counted
        {"text": "", "label": "ham"},
        {"text": "a fine comment", "label": "ham"},
    ]
    messages: list[str] = []
    dataset = load_dataset([write_labelled_csv(tmp_path / "l.csv", rows)], log=messages.append)
    summary = dataset.summary()
    assert (
        summary["rows_read"],
        summary["rows_rejected"],
        summary["duplicates_removed"],
        summary["label_conflicts_removed"],
        summary["rows_kept"],
    ) == (6, 1, 1, 2, 2)
    assert any("rejected" in m and ":6:" in m for m in messages)
    assert messages[-1].startswith(
        "loaded 6 rows from 1 files: 1 rejected, 1 duplicates and 2 label conflicts removed, 2 kept"
    )


def test_near_duplicates_share_a_group() -> None:
    texts = [
        "PRIVATE! Your 2003 Account Statement for 07815296484 shows 800 un-redeemed points. Call 08718738001",
        "PRIVATE! Your 2003 Account Statement for 07753741225 shows 800 un-redeemed points. Call 08715203694",
        "Completely different text about football and the weather today",
    ]
    groups = near_duplicate_groups(texts)
    assert groups[0] == groups[1] != groups[2]


def test_deduplicate_keeps_first_of_each_text(tmp_path: Path) -> None:
    path = write_labelled_csv(tmp_path / "l.csv", [{"text": "same", "label": "ham"}, {"text": "same", "label": "ham"}])
    kept, duplicates, conflicts = deduplicate(read_file(path).rows)
    assert (len(kept), duplicates, conflicts, kept[0].origin.endswith(":2")) == (1, 1, 0, True)
