"""Artifacts are verified before unpickling and written atomically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spamfilter.artifact import CARD_FILE, CURRENT_FILE, MODEL_FILE, ModelLoadError, load_model, save_model, set_current


@pytest.fixture
def registry_copy(small_model, tmp_path: Path) -> Path:
    target = tmp_path / "registry"
    shutil.copytree(small_model.directory.parent, target)
    return target


def _edit_card(registry: Path, **changes: object) -> None:
    path = registry / "fixture-1" / CARD_FILE
    card = json.loads(path.read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            card[section][field] = value
        else:
            card[section] = value
    path.write_text(json.dumps(card))


def test_loads_through_current_pointer(registry_copy: Path) -> None:
    assert load_model(registry_copy).version == "fixture-1"
    assert load_model(registry_copy / "fixture-1").version == "fixture-1"


def test_tampered_artifact_is_refused_before_unpickling(registry_copy: Path) -> None:
    artifact = registry_copy / "fixture-1" / MODEL_FILE
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    with pytest.raises(ModelLoadError, match="SHA-256"):
        load_model(registry_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"libraries__scikit-learn": "0.24.2"}, "built with scikit-learn 0.24.2"),
        ({"feature_version": 999}, "feature version 999"),
        ({"artifact": None}, "unreadable model card"),
    ],
)
def test_mismatched_card_is_refused(registry_copy: Path, change: dict, message: str) -> None:
    _edit_card(registry_copy, **change)
    with pytest.raises(ModelLoadError, match=message):
        load_model(registry_copy)


@pytest.mark.parametrize("problem", ["missing_dir", "dangling_pointer", "missing_artifact"])
def test_broken_registries_are_clear_errors(registry_copy: Path, tmp_path: Path, problem: str) -> None:
    target = registry_copy
    if problem == "missing_dir":
        target = tmp_path / "nowhere"
    elif problem == "dangling_pointer":
        (registry_copy / CURRENT_FILE).write_text("no-such-version\n")
    else:
        (registry_copy / "fixture-1" / MODEL_FILE).unlink()
    with pytest.raises(ModelLoadError):
        load_model(target)


def test_versions_are_immutable_and_current_switches(small_model, tmp_path: Path) -> None:
    card = {**small_model.card, "version": "v2"}
    save_model(small_model.model, card, tmp_path, make_current=False)
    with pytest.raises(FileExistsError):
        save_model(small_model.model, card, tmp_path)
    assert not (tmp_path / CURRENT_FILE).exists()
    set_current(tmp_path, "v2")
    assert load_model(tmp_path).version == "v2"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
