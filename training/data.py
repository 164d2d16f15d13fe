"""Readers for the labelled corpora and the project's own labelled format."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from spamfilter.artifact import sha256_of
from spamfilter.comment import CONTEXT_FIELDS, Comment, parse_label

YOUTUBE_HEADER = ["COMMENT_ID", "AUTHOR", "DATE", "CONTENT", "CLASS"]
SMS_FILE = "SMSSpamCollection"
MAX_TEXT_CHARS = 100_000

csv.field_size_limit(sys.maxsize)


class DataError(Exception):
    """A data file that cannot be read at all (missing, unknown format, wrong header)."""


@dataclass(frozen=True)
class LabelledComment:
    """A comment with its label and where it came from."""

    comment: Comment
    label: int
    corpus: str  # "youtube", "sms", "labels" (a labelled file) or "stored" (labels from the database)
    group: str  # the video for YouTube rows, else the corpus: what leave-one-out holds out
    origin: str  # "file:line", for error messages and audits
    weight: float = 1.0  # how much the row counts in fitting (stored labels may weigh more)


@dataclass(frozen=True)
class RowError:
    """A rejected row, named by file and line."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class FileReport:
    """What one file gave: rows read and rejected, and its SHA-256 for the model card."""

    path: str
    format: str
    sha256: str
    rows_read: int = 0
    rows: list[LabelledComment] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """The file's entry in the model card."""
        spam = sum(r.label for r in self.rows)
        return {
            "path": self.path,
            "format": self.format,
            "sha256": self.sha256,
            "rows_read": self.rows_read,
            "rows_rejected": len(self.rejected),
            "spam": spam,
            "ham": len(self.rows) - spam,
        }


def _check_text(text: str) -> str:
    if not text.strip():
        raise ValueError("empty text")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text longer than {MAX_TEXT_CHARS} characters")
    _check_unicode("text", text)
    return text


def _check_unicode(name: str, value: str | None) -> None:
    if value and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON \u escape: reports could not be written
            raise ValueError(f"{name} is not valid Unicode (a lone surrogate)") from None


def _read_youtube(handle: TextIO, report: FileReport) -> None:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None or [h.strip().lstrip("\ufeff") for h in header] != YOUTUBE_HEADER:
        raise DataError(f"{report.path}: expected the header {','.join(YOUTUBE_HEADER)}")
    video = Path(report.path).stem.split("-", 1)[-1]
    line = reader.line_num
    for record in reader:
        report.rows_read += 1
        try:
            if len(record) != len(YOUTUBE_HEADER):
                raise ValueError(f"expected {len(YOUTUBE_HEADER)} fields, found {len(record)}")
            # DATE is never read: in one file its absence marks the spam rows (a label leak).
            _, author, _, content, label = record
            comment = Comment(text=_check_text(content), author=author or None)
            report.rows.append(
                LabelledComment(comment, parse_label(label), "youtube", video, f"{report.path}:{line + 1}")
            )
        except ValueError as exc:
            report.rejected.append(RowError(report.path, line + 1, str(exc)))
        line = reader.line_num


def _read_sms(handle: TextIO, report: FileReport) -> None:
    for number, raw in enumerate(handle, start=1):
        line = raw.rstrip("\r\n")
        if not line:
            continue
        report.rows_read += 1
        try:
            label, sep, text = line.partition("\t")
            if not sep:
                raise ValueError("expected label<TAB>text")
            comment = Comment(text=_check_text(text))
            report.rows.append(LabelledComment(comment, parse_label(label), "sms", "sms", f"{report.path}:{number}"))
        except ValueError as exc:
            report.rejected.append(RowError(report.path, number, str(exc)))


def _labelled_records(handle: TextIO, report: FileReport) -> Iterator[tuple[int, object]]:
    if report.format == "jsonl":
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                try:
                    yield number, json.loads(raw)
                except json.JSONDecodeError as exc:
                    yield number, ValueError(f"invalid JSON: {exc.msg}")
                except (ValueError, RecursionError) as exc:  # an integer of over 4,300 digits; deep nesting
                    yield number, ValueError(f"invalid JSON: {str(exc)[:100]}")
        return
    reader = csv.DictReader(handle)
    if not reader.fieldnames or "text" not in reader.fieldnames or "label" not in reader.fieldnames:
        raise DataError(f"{report.path}: a labelled CSV needs the columns text and label")
    line = reader.line_num
    for record in reader:
        yield line + 1, record
        line = reader.line_num


def _read_labelled(handle: TextIO, report: FileReport) -> None:
    for number, record in _labelled_records(handle, report):
        report.rows_read += 1
        try:
            if isinstance(record, ValueError):
                raise record
            if not isinstance(record, dict):
                raise ValueError("expected an object with text and label")
            if None in record:
                raise ValueError("more fields than the header names")
            comment = Comment.from_mapping(record)
            _check_text(comment.text)
            for name in CONTEXT_FIELDS:
                _check_unicode(name, getattr(comment, name))
            label = parse_label(record.get("label"))
            group = comment.site or "labels"
            report.rows.append(LabelledComment(comment, label, "labels", group, f"{report.path}:{number}"))
        except ValueError as exc:
            report.rejected.append(RowError(report.path, number, str(exc)))


def _detect_format(path: Path) -> str:
    if path.name == SMS_FILE:
        return "sms"
    if path.suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
        return "youtube" if first.strip().startswith("COMMENT_ID,") else "csv"
    raise DataError(f"{path}: unknown format (expected *.csv, *.jsonl or {SMS_FILE})")


_READERS = {"youtube": _read_youtube, "sms": _read_sms, "csv": _read_labelled, "jsonl": _read_labelled}


def read_file(path: Path) -> FileReport:
    """Read one labelled file in whichever supported format it is."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        fmt = _detect_format(path)
        report = FileReport(str(path), fmt, sha256_of(path))
        with path.open(encoding="utf-8-sig", newline="") as handle:
            _READERS[fmt](handle, report)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    return report


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files named directly, plus the known data files found under named directories."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and (p.name == SMS_FILE or p.suffix in (".csv", ".jsonl", ".ndjson"))
            )
            if not found:
                raise DataError(f"{path}: no data files found")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or directory")
    return files
