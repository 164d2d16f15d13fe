"""Model artifacts on disk: saved atomically, verified (SHA-256, library versions) before unpickling."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy
import sklearn

from spamfilter.comment import Comment, Verdict, as_comment
from spamfilter.model import CalibratedSpamModel
from spamfilter.normalise import FEATURE_VERSION
from spamfilter.reasons import Reason
from spamfilter.scorer import LeanScorer
from spamfilter.tiers import Thresholds

MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.json"
CURRENT_FILE = "CURRENT"
MODEL_DIR_ENV = "SPAMFILTER_MODEL_DIR"


class ModelLoadError(Exception):
    """A model directory that cannot be loaded safely: missing, tampered, or from other code."""


@dataclass(frozen=True)
class Check:
    """The filter's answer for one comment."""

    spam_probability: float
    verdict: Verdict
    reasons: list[Reason]
    model_version: str


@dataclass(frozen=True)
class LoadedModel:
    """A verified model ready to score: its card, thresholds and lean scorer."""

    version: str
    directory: Path
    card: dict[str, Any]
    model: CalibratedSpamModel
    scorer: LeanScorer
    thresholds: Thresholds

    def check_many(self, comments: list[Comment]) -> list[Check]:
        """Probabilities and verdicts (no reasons) of many comments, batched."""
        verdict = self.thresholds.verdict
        return [Check(p, verdict(p), [], self.version) for p in self.scorer.probabilities(comments).tolist()]

    def check(self, comment: Comment | str, reasons: int = 5) -> Check:
        """Probability, verdict tier and reasons for one comment."""
        scored = self.scorer.score(as_comment(comment), reasons)
        verdict = self.thresholds.verdict(scored.probability)
        return Check(scored.probability, verdict, scored.reasons, self.version)


def library_versions() -> dict[str, str]:
    """Versions that must match between the machine that trained and the one that loads."""
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundled_model_root() -> Path:
    """Where the bundled models live: inside the installed package, or the checkout's `models/`."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "bundled_models", package.parent / "models"):
        if (candidate / CURRENT_FILE).is_file():
            return candidate
    raise ModelLoadError("no bundled model found; set SPAMFILTER_MODEL_DIR to a model directory")


def resolve_model_dir(path: Path | None = None) -> Path:
    """A model version directory from a registry root (via its CURRENT pointer) or a version path."""
    root = path or (Path(os.environ[MODEL_DIR_ENV]) if os.environ.get(MODEL_DIR_ENV) else None)
    root = root or bundled_model_root()
    if (root / CARD_FILE).is_file():
        return root
    pointer = root / CURRENT_FILE
    if pointer.is_file():
        version = pointer.read_text(encoding="utf-8").strip()
        if (root / version / CARD_FILE).is_file():
            return root / version
        raise ModelLoadError(f"{pointer} names version {version!r}, which has no {CARD_FILE}")
    raise ModelLoadError(f"{root}: neither a model version (no {CARD_FILE}) nor a registry (no {CURRENT_FILE})")


def load_model(path: Path | None = None) -> LoadedModel:
    """Load a model after checking its SHA-256, scikit-learn version and feature version."""
    directory = resolve_model_dir(path)
    try:
        card = json.loads((directory / CARD_FILE).read_text(encoding="utf-8"))
        expected = card["artifact"]["sha256"]
        built_with = card["libraries"]["scikit-learn"]
        features = card["feature_version"]
        thresholds = Thresholds(**card["thresholds"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{directory / CARD_FILE}: unreadable model card ({exc})") from exc
    artifact = directory / MODEL_FILE
    if not artifact.is_file():
        raise ModelLoadError(f"{artifact}: missing")
    actual = sha256_of(artifact)
    if actual != expected:
        raise ModelLoadError(f"{artifact}: SHA-256 {actual} does not match the model card's {expected}")
    if built_with != sklearn.__version__:
        raise ModelLoadError(
            f"{directory}: built with scikit-learn {built_with}, but {sklearn.__version__} is installed; "
            f"install scikit-learn=={built_with} or retrain with `spamfilter train`"
        )
    if features != FEATURE_VERSION:
        raise ModelLoadError(
            f"{directory}: built for feature version {features}, this code extracts version "
            f"{FEATURE_VERSION}; retrain with `spamfilter train`"
        )
    model = joblib.load(artifact)
    if not isinstance(model, CalibratedSpamModel):
        raise ModelLoadError(f"{artifact}: not a spam model")
    return LoadedModel(card["version"], directory, card, model, LeanScorer(model), thresholds)


def save_model(
    model: CalibratedSpamModel,
    card: dict[str, Any],
    registry: Path,
    render: Callable[[dict[str, Any]], str] | None = None,
    make_current: bool = True,
    extra_files: dict[str, str] | None = None,
) -> Path:
    """Write a new immutable version directory atomically; optionally point CURRENT at it."""
    version = card["version"]
    target = registry / version
    if target.exists():
        raise FileExistsError(f"{target} already exists; versions are immutable, pick a new one")
    registry.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=registry))
    try:
        joblib.dump(model, staging / MODEL_FILE, compress=3)
        card = {**card, "artifact": {"file": MODEL_FILE, "sha256": sha256_of(staging / MODEL_FILE)}}
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        if render is not None:
            (staging / "MODEL_CARD.md").write_text(render(card), encoding="utf-8")
        for name, content in (extra_files or {}).items():
            (staging / name).write_text(content, encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private; a non-root service user must read it
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if make_current:
        set_current(registry, version)
    return target


def set_current(registry: Path, version: str) -> None:
    """Switch the CURRENT pointer atomically (write aside, then rename over)."""
    pointer = registry / CURRENT_FILE
    staging = registry / f".{CURRENT_FILE}.{os.getpid()}"
    staging.write_text(version + "\n", encoding="utf-8")
    os.replace(staging, pointer)
