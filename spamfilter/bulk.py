"""Bulk scoring of a CSV file: every input column kept, probability, verdict and reasons added."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from tqdm import tqdm

from spamfilter.artifact import LoadedModel
from spamfilter.comment import Comment
from spamfilter.reasons import format_reasons

OUTPUT_COLUMNS = ("spam_probability", "verdict", "reasons")
CHUNK = 512

csv.field_size_limit(sys.maxsize)


class InputError(Exception):
    """An input file that cannot be scored (missing, not UTF-8, no `text` column, ragged row)."""


def _write_chunk(model: LoadedModel, chunk: list[dict[str, str]], writer: csv.DictWriter[str], reasons: int) -> int:
    if not chunk:
        return 0
    comments = [Comment.from_mapping(record) for record in chunk]
    # Without reasons the whole chunk is scored in one batch.
    checks = [model.check(c, reasons=reasons) for c in comments] if reasons else model.check_many(comments)
    for record, check in zip(chunk, checks, strict=True):
        record.update(
            spam_probability=f"{check.spam_probability:.6f}",
            verdict=check.verdict.value,
            reasons=format_reasons(check.reasons),
        )
    writer.writerows(chunk)
    return len(chunk)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def score_csv(model: LoadedModel, source: Path, target: Path, progress: bool = True, reasons: int = 3) -> int:
    """Score every row of `source` into `target` (with up to `reasons` reasons); returns the rows written."""
    if not source.is_file():
        raise InputError(f"{source}: no such file")
    written = 0
    partial = target.with_name(f".{target.name}.partial")
    try:
        with (
            source.open(encoding="utf-8-sig", newline="") as inp,
            partial.open("w", encoding="utf-8", newline="") as out,
        ):
            reader = csv.DictReader(inp)
            columns = list(reader.fieldnames or [])
            if "text" not in columns:
                raise InputError(f"{source}: needs a `text` column (found: {', '.join(columns) or 'none'})")
            clash = [c for c in OUTPUT_COLUMNS if c in columns]
            if clash:
                raise InputError(f"{source}: already has the output column(s) {', '.join(clash)}")
            writer = csv.DictWriter(out, fieldnames=columns + list(OUTPUT_COLUMNS))
            writer.writeheader()
            bar = tqdm(total=max(_count_lines(source) - 1, 0), unit="comments", disable=not progress, file=sys.stderr)
            line = reader.line_num
            chunk: list[dict[str, str]] = []
            for record in reader:
                if None in record or any(record.get(c) is None for c in columns):
                    raise InputError(f"{source}:{line + 1}: the row has a different number of fields than the header")
                line = reader.line_num
                chunk.append(record)
                if len(chunk) == CHUNK:
                    written += _write_chunk(model, chunk, writer, reasons)
                    bar.update(line - 1 - bar.n)
                    chunk = []
            written += _write_chunk(model, chunk, writer, reasons)
            bar.update(reader.line_num - 1 - bar.n)
            bar.close()
        partial.replace(target)
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    finally:
        partial.unlink(missing_ok=True)
    return written
