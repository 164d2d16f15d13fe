"""The registry: listing, the promotion gate, atomic pointers, history and rollback, shadow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spamfilter.artifact import LoadedModel, set_current
from spamfilter.registry import (
    DEFAULT_TOLERANCE,
    RegistryError,
    current_version,
    gate_problems,
    list_versions,
    promote,
    rollback,
    rollback_target,
    set_shadow,
    shadow_version,
)
from tests.conftest import add_version


def comparison(against: str, held: tuple[float, float], caught: tuple[float, float]) -> dict[str, Any]:
    """A card's comparison with the given (candidate, current) held-back figures."""
    return {
        "against": against,
        "gate": {"held-back labels": {"roc_auc": list(held), "spam_caught_at_1pct_fpr": list(caught)}},
    }


@pytest.mark.parametrize(
    ("held", "caught", "refused"),
    [
        ((0.95, 0.95), (0.80, 0.80), None),  # equal
        ((0.96, 0.95), (0.85, 0.80), None),  # better
        ((0.946, 0.95), (0.79, 0.80), None),  # worse, within tolerance
        ((0.94, 0.95), (0.80, 0.80), "roc_auc"),  # ROC-AUC beyond tolerance
        ((0.95, 0.95), (0.70, 0.80), "spam_caught_at_1pct_fpr"),
    ],
)
def test_gate_compares_candidate_and_current_within_tolerance(
    held: tuple[float, float], caught: tuple[float, float], refused: str | None
) -> None:
    card = {"version": "cand", "comparison": comparison("cur", held, caught)}
    problems = gate_problems(card, "cur", DEFAULT_TOLERANCE)
    if refused is None:
        assert problems == []
    else:
        assert len(problems) == 1 and refused in problems[0] and "tolerance" in problems[0]


@pytest.mark.parametrize(
    ("card", "says"),
    [
        ({"version": "cand"}, "no evaluation against the current model"),
        ({"version": "cand", "comparison": comparison("older", (1, 0), (1, 0))}, "retrain to compare"),
        ({"version": "cand", "comparison": {"against": "cur", "gate": {}}}, "measured on nothing"),
        ({"version": "cur", "comparison": comparison("cur", (1, 0), (1, 0))}, "already the current model"),
    ],
)
def test_gate_refuses_what_was_not_compared_with_the_current_model(card: dict[str, Any], says: str) -> None:
    assert says in gate_problems(card, "cur", DEFAULT_TOLERANCE)[0]


def test_promote_refuses_a_worse_candidate_unless_forced(registry: Path, bundled_model: LoadedModel) -> None:
    base = bundled_model.version
    add_version(registry, registry / base, "worse", comparison=comparison(base, (0.80, 0.95), (0.5, 0.8)))
    with pytest.raises(RegistryError, match=r"refused: held-back labels roc_auc: 0.8000 against 0.9500"):
        promote(registry, "worse")
    assert current_version(registry) == base
    assert promote(registry, "worse", force=True, actor="ops") == base
    assert current_version(registry) == "worse"
    history = [json.loads(line) for line in (registry / "HISTORY.jsonl").read_text().splitlines()]
    assert history[-1] | {"at": None} == {
        "at": None,
        "action": "promote",
        "from": base,
        "to": "worse",
        "forced": True,
        "by": "ops",
    }


def test_promote_and_rollback_walk_the_history(registry: Path, bundled_model: LoadedModel) -> None:
    base = bundled_model.version
    add_version(registry, registry / base, "b", comparison=comparison(base, (0.99, 0.95), (0.9, 0.8)))
    add_version(registry, registry / base, "c", comparison=comparison("b", (0.99, 0.95), (0.9, 0.8)))
    promote(registry, "b")
    promote(registry, "c")
    assert [v.name for v in list_versions(registry) if v.current] == ["c"]
    assert rollback_target(registry) == "b"
    assert rollback(registry) == ("c", "b")
    assert rollback(registry) == ("b", base)
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        rollback(registry)
    assert current_version(registry) == base


def test_rollback_refuses_when_current_was_set_outside_promote(registry: Path, bundled_model: LoadedModel) -> None:
    add_version(registry, registry / bundled_model.version, "b")
    promote(registry, "b", force=True)
    set_current(registry, bundled_model.version)
    with pytest.raises(RegistryError, match="was not set by `models promote`"):
        rollback(registry)


def test_a_tampered_version_is_never_promoted(registry: Path, bundled_model: LoadedModel) -> None:
    target = add_version(registry, registry / bundled_model.version, "tampered")
    with (target / "model.joblib").open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(RegistryError, match=r"cannot be loaded: .*SHA-256"):
        promote(registry, "tampered", force=True)
    assert current_version(registry) == bundled_model.version


@pytest.mark.parametrize("name", ["../etc", ".hidden", "", "missing"])
def test_unknown_or_unsafe_version_names_are_refused(registry: Path, name: str) -> None:
    with pytest.raises(RegistryError):
        promote(registry, name, force=True)


def test_shadow_pointer_is_set_checked_and_cleared_by_promotion(registry: Path, bundled_model: LoadedModel) -> None:
    add_version(registry, registry / bundled_model.version, "cand")
    with pytest.raises(RegistryError, match="is the current model"):
        set_shadow(registry, bundled_model.version)
    set_shadow(registry, "cand")
    assert shadow_version(registry) == "cand"
    assert [v.name for v in list_versions(registry) if v.shadow] == ["cand"]
    promote(registry, "cand", force=True)
    assert shadow_version(registry) is None  # the shadow became the current model
