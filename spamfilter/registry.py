"""The model registry: immutable versions, an atomic CURRENT pointer, promotion history and the gate.

A registry is a directory of version directories (see artifact.py), the `CURRENT` pointer,
an optional `SHADOW` pointer and `HISTORY.jsonl`, one line per promotion or rollback, which
is what `rollback` walks back through.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spamfilter.artifact import CARD_FILE, CURRENT_FILE, ModelLoadError, load_model, set_current

HISTORY_FILE = "HISTORY.jsonl"
SHADOW_FILE = "SHADOW"
EVALUATION_FILE = "evaluation.json"
# What promotion tolerates: a candidate may be this much worse than the current model on the
# held-back recent labels (and the corpus protocols) and still be promoted without --force.
DEFAULT_TOLERANCE = {"roc_auc": 0.005, "spam_caught_at_1pct_fpr": 0.02}


class RegistryError(Exception):
    """A registry operation that cannot be done: unknown version, nothing to roll back to, refused."""


@dataclass(frozen=True)
class Version:
    """One registered model version, as listed."""

    name: str
    created_at: str
    card: dict[str, Any]
    current: bool
    shadow: bool


def read_pointer(registry: Path, name: str) -> str | None:
    """The version a pointer file names, or None when it is absent or empty."""
    try:
        return (registry / name).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def current_version(registry: Path) -> str | None:
    """The version CURRENT names."""
    return read_pointer(registry, CURRENT_FILE)


def shadow_version(registry: Path) -> str | None:
    """The version SHADOW names: a candidate scoring live traffic beside the current model."""
    return read_pointer(registry, SHADOW_FILE)


def read_card(registry: Path, version: str) -> dict[str, Any]:
    """A version's model card; RegistryError when there is no such version."""
    if not version or "/" in version or version.startswith("."):
        raise RegistryError(f"{version!r} is not a version name")
    try:
        card: dict[str, Any] = json.loads((registry / version / CARD_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RegistryError(f"no version {version!r} in {registry}") from exc
    except ValueError as exc:
        raise RegistryError(f"{registry / version / CARD_FILE}: unreadable ({exc})") from exc
    return card


def list_versions(registry: Path) -> list[Version]:
    """Every version in the registry, oldest first."""
    if not registry.is_dir():
        raise RegistryError(f"{registry}: no such registry directory")
    current, shadow = current_version(registry), shadow_version(registry)
    versions = []
    for path in registry.iterdir():
        if path.name.startswith(".") or not (path / CARD_FILE).is_file():
            continue
        card = read_card(registry, path.name)
        versions.append(
            Version(path.name, str(card.get("created_at", "")), card, path.name == current, path.name == shadow)
        )
    return sorted(versions, key=lambda v: (v.created_at, v.name))


def read_evaluation(registry: Path, version: str) -> dict[str, Any] | None:
    """The side-by-side evaluation `retrain` stored with a version, if any."""
    try:
        evaluation: dict[str, Any] = json.loads((registry / version / EVALUATION_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return evaluation


def gate_problems(card: dict[str, Any], current: str | None, tolerance: dict[str, float]) -> list[str]:
    """Why a candidate should not replace `current` (empty when it may)."""
    version = card.get("version")
    if current is None:
        return []
    if version == current:
        return [f"{version} is already the current model"]
    comparison = card.get("comparison")
    if not comparison:
        return [f"{version} has no evaluation against the current model {current} (make candidates with `retrain`)"]
    if comparison.get("against") != current:
        return [
            f"{version} was compared with {comparison.get('against')}, but the current model is {current}; "
            "retrain to compare it with the current model"
        ]
    if not comparison.get("gate"):
        return [
            f"{version} was measured on nothing both models share "
            "(no held-back labels with both spam and ham, no protocols)"
        ]
    problems = []
    for scope, figures in comparison["gate"].items():
        for metric, allowed in tolerance.items():
            pair = figures.get(metric)
            if pair is None:
                continue
            candidate, incumbent = pair
            if candidate < incumbent - allowed:
                problems.append(
                    f"{scope} {metric}: {candidate:.4f} against {incumbent:.4f} for {current} "
                    f"(worse by {incumbent - candidate:.4f}, tolerance {allowed})"
                )
    return problems


@contextlib.contextmanager
def _locked(registry: Path) -> Iterator[None]:
    """Serialise pointer changes between concurrent commands."""
    with (registry / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _history(registry: Path) -> list[dict[str, Any]]:
    try:
        lines = (registry / HISTORY_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def _append_history(registry: Path, entry: dict[str, Any]) -> None:
    entry = {"at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(), **entry}
    with (registry / HISTORY_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _verified(registry: Path, version: str) -> None:
    read_card(registry, version)
    try:
        load_model(registry / version)  # never point CURRENT at something workers cannot load
    except ModelLoadError as exc:
        raise RegistryError(f"{version} cannot be loaded: {exc}") from exc


def promote(
    registry: Path, version: str, force: bool = False, tolerance: dict[str, float] | None = None, actor: str = ""
) -> str | None:
    """Point CURRENT at `version` after the gate (unless forced); returns the version it replaced."""
    with _locked(registry):
        card = read_card(registry, version)
        previous = current_version(registry)
        problems = gate_problems(card, previous, tolerance or DEFAULT_TOLERANCE)
        if version == previous:
            raise RegistryError(problems[0])
        if problems and not force:
            raise RegistryError("refused: " + "; ".join(problems) + " (use --force to promote anyway)")
        _verified(registry, version)
        set_current(registry, version)
        _append_history(
            registry, {"action": "promote", "from": previous, "to": version, "forced": bool(problems), "by": actor}
        )
        if shadow_version(registry) == version:
            clear_shadow(registry)
        return previous


def rollback_target(registry: Path) -> str:
    """The version `rollback` would return to: the one before the current in the promotion history."""
    stack: list[str] = []
    for entry in _history(registry):
        if entry["action"] == "promote":
            if entry.get("from") and (not stack or stack[-1] != entry["from"]):
                stack.append(entry["from"])
            stack.append(entry["to"])
        elif stack:
            stack.pop()
            if not stack or stack[-1] != entry["to"]:
                stack.append(entry["to"])
    current = current_version(registry)
    if not stack or stack[-1] != current:
        raise RegistryError(
            f"CURRENT ({current}) was not set by `models promote`, so there is no history to roll back; "
            "use `spamfilter models promote VERSION --force`"
        )
    if len(stack) < 2:
        raise RegistryError(f"nothing to roll back to: {current} is the first promoted version")
    return stack[-2]


def rollback(registry: Path, actor: str = "") -> tuple[str, str]:
    """Return CURRENT to the previously promoted version; returns (from, to)."""
    with _locked(registry):
        target = rollback_target(registry)
        current = current_version(registry) or ""
        _verified(registry, target)
        set_current(registry, target)
        _append_history(registry, {"action": "rollback", "from": current, "to": target, "by": actor})
        return current, target


def set_shadow(registry: Path, version: str) -> None:
    """Let `version` score live traffic beside the current model (answers are unaffected)."""
    with _locked(registry):
        if version == current_version(registry):
            raise RegistryError(f"{version} is the current model; shadow a candidate instead")
        _verified(registry, version)
        staging = registry / f".{SHADOW_FILE}.{os.getpid()}"
        staging.write_text(version + "\n", encoding="utf-8")
        os.replace(staging, registry / SHADOW_FILE)


def clear_shadow(registry: Path) -> None:
    """Stop shadow scoring."""
    with contextlib.suppress(FileNotFoundError):
        (registry / SHADOW_FILE).unlink()
