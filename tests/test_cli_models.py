"""The retraining loop from the command line: retrain, list, show, report, shadow, promote, rollback, init."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.db import make_engine, upgrade
from service.labels import record_label
from spamfilter.artifact import LoadedModel
from spamfilter.cli import main
from spamfilter.registry import current_version
from tests.conftest import HAM, SPAM, site_comments, write_labelled_csv

SITE = "https://gazette.example"


@pytest.fixture
def env(tmp_path: Path, registry: Path) -> dict[str, str]:
    """A registry and a SQLite database holding one site's labels."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    from sqlalchemy.orm import sessionmaker

    sessions = sessionmaker(make_engine(url))
    with sessions() as session:
        for text, label in site_comments(7, 100):
            record_label(session, "spam" if label else "ham", {"text": text, "site": SITE}, "moderator", "alice")
    return {"DATABASE_URL": url, "SPAMFILTER_MODEL_DIR": str(registry), "REDIS_URL": ""}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    rows = [{"text": t, "label": "spam"} for t in SPAM] + [{"text": t, "label": "ham"} for t in HAM]
    return write_labelled_csv(tmp_path / "corpus.csv", rows)


def run(env: dict[str, str], *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args), env=env)
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def test_retrain_registers_a_candidate_with_its_report_and_the_loop_runs(
    env: dict[str, str], corpus: Path, registry: Path, bundled_model: LoadedModel
) -> None:
    output = run(env, "retrain", "--data", str(corpus), "--no-protocols", "--version", "cand-1")
    assert "reading labels" in output and "registered candidate cand-1" in output
    assert output.strip().splitlines()[-1] == "cand-1"
    assert current_version(registry) == bundled_model.version  # registered, not promoted
    card = json.loads((registry / "cand-1" / "model_card.json").read_text())
    assert card["retraining"]["labels"]["held_back"] == 20 and card["retraining"]["label_weight"] == 3.0
    assert card["comparison"]["against"] == bundled_model.version
    report = (registry / "reports" / "cand-1.html").read_text()
    for section in ("Held-back recent labels", "Per site", "would change", "Corpus protocols", "Shadow mode"):
        assert section in report
    assert report.count("data:image/png;base64,") == 2  # ROC and precision-recall, both models on each

    listing = run(env, "models", "list")
    assert f"{bundled_model.version}\t" in listing and "cand-1\t" in listing and "\tcurrent\t" in listing
    shown = json.loads(run(env, "models", "show", "cand-1"))
    assert shown["role"] == "registered" and shown["report"].endswith("cand-1.html")

    run(env, "models", "shadow", "cand-1")
    assert (registry / "SHADOW").read_text().strip() == "cand-1"
    assert "0 shadow checks" in run(env, "models", "report", "cand-1")
    run(env, "models", "shadow", "--off")
    assert not (registry / "SHADOW").exists()

    assert "promoted cand-1" in run(env, "models", "promote", "cand-1")
    assert current_version(registry) == "cand-1"
    assert "rolled back from cand-1 to" in run(env, "models", "rollback")
    assert current_version(registry) == bundled_model.version


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models", "show", "nope"), "no version 'nope'"),
        (("models", "promote", "nope"), "no version 'nope'"),
        (("models", "rollback"), "not set by `models promote`"),
        (("models", "shadow"), "give either a VERSION or --off"),
        (("models", "report", "{current}"), "has no stored evaluation"),
        (("models", "init"), "already holds a registry"),
    ],
)
def test_models_commands_fail_with_one_clear_line(
    env: dict[str, str], args: tuple[str, ...], message: str, bundled_model: LoadedModel
) -> None:
    output = run(env, *[a.format(current=bundled_model.version) for a in args], ok=False)
    assert message in output and "Traceback" not in output


def test_init_copies_the_bundled_model_into_a_new_registry(tmp_path: Path, bundled_model: LoadedModel) -> None:
    root = tmp_path / "fresh"
    run({"SPAMFILTER_MODEL_DIR": str(root)}, "models", "init")
    assert current_version(root) == bundled_model.version
    assert (root / bundled_model.version / "model.joblib").read_bytes() == (
        bundled_model.directory / "model.joblib"
    ).read_bytes()


def test_retrain_out_of_core_streams_labels_and_registers_a_comparable_candidate(
    env: dict[str, str], corpus: Path, registry: Path, bundled_model: LoadedModel
) -> None:
    output = run(env, "retrain", "--data", str(corpus), "--out-of-core", "--chunk-size", "100", "--version", "ooc")
    assert "not run out of core" in output and "fitted out of core" in output
    card = json.loads((registry / "ooc" / "model_card.json").read_text())
    assert card["retraining"]["out_of_core"] is True
    assert card["training_data"]["streamed"] is True and card["training_data"]["stored_labels"] == 80
    assert card["comparison"]["held_back"]["n"] == 20
    assert "held-back labels" in card["comparison"]["gate"]
    assert (registry / "reports" / "ooc.html").is_file()
