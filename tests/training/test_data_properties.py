"""The readers on arbitrary lines: every row is kept or rejected with its line, and nothing crashes.

Each property writes a file, reads it with `read_file` and checks the row accounting
(read = kept + rejected), the line numbers (where each record starts) and, for generated rows,
which are kept, against the README's rules: empty text, unknown label, wrong number of fields
and invalid JSON are rejected; a text longer than 100,000 characters or holding a lone surrogate
(possible through a JSON `\\u` escape) too.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.tally import bounded, counted, record
from training.data import MAX_TEXT_CHARS, FileReport, read_file

_files = itertools.count()
LABELS = {"spam": 1, "ham": 0, "1": 1, "0": 0}
labels = st.sampled_from(["spam", "ham", "1", "0", " SPAM ", "Ham", "maybe", "", "2", "1.0", "spam ham"])
# File text has no surrogates; JSON escapes can bring them in (and \r, \n, NUL: any code point).
file_chars = st.characters(codec="utf-8")
cell_text = st.one_of(
    st.text(file_chars, max_size=40),
    st.sampled_from(["", " ", "\t", "x" * MAX_TEXT_CHARS, "y" * (MAX_TEXT_CHARS + 1), 'say "hi", ok', "a\r\nb"]),
)
any_text = st.one_of(cell_text, st.text(st.characters(codec=None, exclude_categories=()), max_size=20))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for every generated file of this module."""
    return tmp_path_factory.mktemp("data-properties")


def _write(directory: Path, name: str, text: str) -> Path:
    # A directory per file: the SMS format is known by its file name alone.
    path = directory / str(next(_files)) / name
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _lines(text: str) -> int:
    """Lines as the readers' source splits them (newline="": at LF, CR and CR LF)."""
    return len(io.StringIO(text, newline="").readlines())


def _check_accounting(report: FileReport, lines: int) -> None:
    assert report.rows_read == len(report.rows) + len(report.rejected)
    assert all(1 <= e.line <= lines and e.message for e in report.rejected)
    assert all(str(e).startswith(f"{report.path}:{e.line}: ") for e in report.rejected)
    kept_lines = [int(r.origin.rsplit(":", 1)[1]) for r in report.rows]
    assert kept_lines == sorted(kept_lines) and not set(kept_lines) & {e.line for e in report.rejected}


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_ok(text: str) -> bool:
    return bool(text.strip()) and len(text) <= MAX_TEXT_CHARS and _unicode(text)


def _label_ok(value: object) -> bool:
    return (isinstance(value, str) and value.strip().lower() in LABELS) or (type(value) is int and value in (0, 1))


def _valid_record(record: object) -> bool:
    if not isinstance(record, dict):
        return False
    fields = [v for k, v in record.items() if k != "label" and v not in (None, "")]
    return (
        _text_ok(str(record.get("text") or ""))
        and all(map(_unicode, map(str, fields)))
        and _label_ok(record.get("label"))
    )


json_records = st.fixed_dictionaries(
    {"text": st.one_of(any_text, st.integers(), st.none(), st.lists(st.integers(), max_size=2))},
    optional={"label": st.one_of(labels, st.integers(-1, 2), st.booleans(), st.floats()), "site": any_text},
)
jsonl_lines = st.one_of(
    json_records.map(json.dumps),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30),  # mostly not JSON
    st.sampled_from(["[1, 2]", '"text"', "null", "NaN", "{}", "   ", "{", '{"text": "x", "label": "spam"} trailing']),
    st.integers(1, 3).map(lambda n: "[" * (n * 50_000)),  # deeper than the parser recurses
    st.integers(4_301, 5_000).map(lambda n: "1" * n),  # longer than Python converts to an int
)


@bounded(150)
@given(st.lists(jsonl_lines, max_size=12), st.booleans())
@counted
def test_jsonl_lines_are_each_kept_or_rejected(data_dir: Path, lines: list[str], bom: bool) -> None:
    path = _write(data_dir, "rows.jsonl", ("\ufeff" if bom else "") + "".join(line + "\n" for line in lines))
    report = read_file(path)
    _check_accounting(report, len(lines))
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    assert report.rows_read == len(numbered)

    def parses(line: str) -> object:
        try:
            return json.loads(line)
        except (ValueError, RecursionError):
            return None

    expected = [n for n, line in numbered if _valid_record(parses(line))]
    assert [int(r.origin.rsplit(":", 1)[1]) for r in report.rows] == expected
    for row in report.rows:
        assert row.label in (0, 1) and row.comment.text.strip() and row.corpus == "labels"


csv_rows = st.fixed_dictionaries(
    {"text": cell_text, "label": labels},
    optional={name: st.text(file_chars, max_size=10) for name in ("author", "site", "notes")},
)


@bounded(150)
@given(st.lists(csv_rows, max_size=10))
@counted
def test_labelled_csv_rows_are_kept_or_rejected_at_their_first_line(data_dir: Path, rows: list[dict[str, str]]) -> None:
    columns = ["text", "label", *sorted({k for row in rows for k in row} - {"text", "label"})]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    starts = []  # the line each record starts on, counted as the reader's source splits lines
    for row in rows:
        starts.append(len(io.StringIO(buffer.getvalue(), newline="").readlines()) + 1)
        writer.writerow(row)
    path = _write(data_dir, "rows.csv", buffer.getvalue())
    report = read_file(path)
    _check_accounting(report, _lines(buffer.getvalue()))
    assert report.rows_read == len(rows)
    valid = [_text_ok(row["text"]) and _label_ok(row["label"]) for row in rows]
    assert [int(r.origin.rsplit(":", 1)[1]) for r in report.rows] == [s for s, ok in zip(starts, valid) if ok]
    assert [e.line for e in report.rejected] == [s for s, ok in zip(starts, valid) if not ok]
    for kept, row in zip(report.rows, [row for row, ok in zip(rows, valid) if ok]):
        assert kept.comment.text == row["text"] and kept.comment.author == (row.get("author") or None)


raw_lines = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40)


@pytest.mark.parametrize("kind", ["csv", "youtube", "sms"])
def test_any_lines_after_a_header_never_crash(kind: str, data_dir: Path) -> None:
    header = {"csv": "text,label,author\n", "youtube": "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\n", "sms": ""}[kind]
    name = {"csv": "any.csv", "youtube": "Youtube09-Any.csv", "sms": "SMSSpamCollection"}[kind]

    @bounded(150)
    @given(st.lists(st.one_of(raw_lines, st.just('"'), st.just("spam\tFree money"), st.just("a,b,c,d,1")), max_size=12))
    def any_lines(lines: list[str]) -> None:
        record(f"training.test_data_properties::test_any_lines_after_a_header_never_crash[{kind}]")
        text = header + "".join(line + "\n" for line in lines)
        report = read_file(_write(data_dir, name, text))
        _check_accounting(report, _lines(text))
        if kind == "sms":
            assert report.rows_read == sum(1 for line in lines if line)

    any_lines()


def test_jsonl_lines_that_used_to_crash_the_reader(data_dir: Path) -> None:
    lines = ["1" * 5_000, "[" * 100_000, '{"text": "hi \\ud800", "label": "spam"}', '{"text": "fine", "label": "ham"}']
    report = read_file(_write(data_dir, "regressions.jsonl", "\n".join(lines) + "\n"))
    assert [(e.line, e.message.split(":")[0]) for e in report.rejected] == [
        (1, "invalid JSON"),
        (2, "invalid JSON"),
        (3, "text is not valid Unicode (a lone surrogate)"),
    ]
    assert [r.comment.text for r in report.rows] == ["fine"]
    assert all(len(e.message) < 200 for e in report.rejected)
