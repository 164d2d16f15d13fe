"""The command line: train, evaluate and score, with one-line errors for bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from spamfilter.cli import main
from tests.conftest import write_labelled_csv


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_train_then_score_then_evaluate(runner: CliRunner, labelled_csv: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    result = runner.invoke(
        main,
        [
            "train",
            "--data",
            str(labelled_csv),
            "--out",
            str(registry),
            "--version",
            "t1",
            "--no-protocols",
            "--min-df",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "loaded 24 rows from 1 files" in result.output
    assert (registry / "t1" / "MODEL_CARD.md").read_text().startswith("# Model card: spamfilter t1")
    assert (registry / "CURRENT").read_text().strip() == "t1"

    comments = write_labelled_csv(
        tmp_path / "in.csv",
        [
            {"text": "Subscribe to my channel http://bit.ly/x", "label": "?", "author": "me"},
            {"text": "What a lovely song", "label": "?", "author": ""},
        ],
    )
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["score", "--model", str(registry), "--input", str(comments), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["author"] for r in rows] == ["me", ""]
    assert float(rows[0]["spam_probability"]) > float(rows[1]["spam_probability"])
    assert rows[0]["verdict"] in ("review", "spam", "discard") and rows[1]["verdict"] == "ham"
    assert rows[0]["reasons"].startswith("+ ")

    fast = tmp_path / "fast.csv"
    result = runner.invoke(
        main, ["score", "--model", str(registry), "--input", str(comments), "--output", str(fast), "--reasons", "0"]
    )
    assert result.exit_code == 0, result.output
    fast_rows = list(csv.DictReader(fast.read_text().splitlines()))
    assert [r["spam_probability"] for r in fast_rows] == [r["spam_probability"] for r in rows]
    assert [r["reasons"] for r in fast_rows] == ["", ""]

    report = tmp_path / "report.html"
    result = runner.invoke(
        main, ["evaluate", "--model", str(registry), "--data", str(labelled_csv), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert '"roc_auc"' in result.output and "optimistic" in result.output
    assert report.read_text().count("data:image/png;base64,") == 5


def test_score_uses_bundled_model_by_default(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPAMFILTER_MODEL_DIR", raising=False)
    source = write_labelled_csv(tmp_path / "in.csv", [{"text": "hello", "label": ""}])
    result = runner.invoke(main, ["score", "--input", str(source), "--output", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert "with model 2026" in result.output


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (["score", "--input", "{missing}", "--output", "{out}"], None, "no such file"),
        (["score", "--input", "{file}", "--output", "{out}"], "body,author\nhi,me\n", "needs a `text` column"),
        (
            ["score", "--input", "{file}", "--output", "{out}"],
            "text,author\nhi,me,extra\n",
            ":2: the row has a different number of fields",
        ),
        (["score", "--input", "{file}", "--output", "{out}"], b"text\n\xff\n", "not UTF-8"),
        (
            ["score", "--model", "{missing}", "--input", "{file}", "--output", "{out}"],
            "text\nhi\n",
            "neither a model version",
        ),
        (["train", "--data", "{missing}", "--out", "{out}"], None, "no such file or directory"),
        (
            ["train", "--data", "{file}", "--out", "{out}", "--no-protocols"],
            "text,label\nonly ham,ham\n",
            "both spam and ham",
        ),
        (["evaluate", "--data", "{file}"], "x,y\n1,2\n", "needs the columns text and label"),
    ],
)
def test_bad_input_is_one_clear_line(
    runner: CliRunner, tmp_path: Path, args: list[str], content: str | bytes | None, message: str
) -> None:
    file = tmp_path / "input.csv"
    if isinstance(content, bytes):
        file.write_bytes(content)
    elif content is not None:
        file.write_text(content)
    names = {"missing": str(tmp_path / "missing.csv"), "out": str(tmp_path / "out"), "file": str(file)}
    result = runner.invoke(main, [a.format(**names) for a in args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").is_file()


def test_help_lists_commands(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert all(command in result.output for command in ("train", "evaluate", "score"))


def test_migrate_says_where_and_hides_the_password(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    result = runner.invoke(main, ["migrate"], env={"DATABASE_URL": url})
    assert result.exit_code == 0 and f"database schema is current ({url})" in result.output
    down = runner.invoke(main, ["migrate"], env={"DATABASE_URL": "postgresql+psycopg://u:secretpw@127.0.0.1:1/x"})
    assert down.exit_code == 1 and "cannot reach the database" in down.output and "secretpw" not in down.output
