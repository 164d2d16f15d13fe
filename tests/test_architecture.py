"""Dependencies point one way, and the README documents every command and setting."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from spamfilter.cli import main
from tests.conftest import REPO

PACKAGES = ("spamfilter", "training", "service")
# The command line wires training and serving together, importing them inside the commands only.
COMPOSITION_ROOTS = ("cli.py", "cli_common.py", "cli_models.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((REPO / "spamfilter").glob("*.py")), ids=lambda p: p.name)
def test_shared_code_never_imports_training(path: Path) -> None:
    if path.name in COMPOSITION_ROOTS:  # importing training lazily, inside commands
        source = path.read_text()
        assert not re.search(r"^from training|^import training", source, re.MULTILINE)
        return
    assert "training" not in _imports(path)


@pytest.mark.parametrize("path", sorted((REPO / "service").rglob("*.py")), ids=lambda p: p.name)
def test_service_never_imports_training(path: Path) -> None:
    assert "training" not in _imports(path)


@pytest.mark.parametrize("path", sorted((REPO / "spamfilter").glob("*.py")), ids=lambda p: p.name)
def test_shared_code_never_imports_service(path: Path) -> None:
    source = path.read_text()
    if path.name in COMPOSITION_ROOTS:  # the service is imported lazily, inside the commands
        assert not re.search(r"^from service|^import service", source, re.MULTILINE)
        return
    assert "service" not in _imports(path)


def test_readme_documents_commands_and_settings() -> None:
    readme = (REPO / "README.md").read_text()
    for name, command in main.commands.items():
        assert f"spamfilter {name}" in readme, name
        for sub in getattr(command, "commands", {}):
            assert f"spamfilter {name} {sub}" in readme, f"{name} {sub}"
    code = "\n".join(p.read_text() for package in PACKAGES for p in (REPO / package).rglob("*.py"))
    settings = set(re.findall(r"SPAMFILTER_[A-Z_]+", code))
    assert settings, "expected at least one setting"
    for name in settings:
        assert f"`{name}`" in readme, name


def test_readme_configuration_table_matches_the_settings() -> None:
    from service.config import SETTINGS

    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Configuration") : readme.index("## Running it")]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, re.MULTILINE))
    assert set(SETTINGS) <= documented
    assert documented - set(SETTINGS) == {
        "SPAMFILTER_BIND",
        "SPAMFILTER_WORKERS",
        "SPAMFILTER_THREADS",
        "SPAMFILTER_DATA_DIR",
        "SPAMFILTER_LABEL_WEIGHT",
        "SPAMFILTER_LABEL_WINDOW_DAYS",
        "SPAMFILTER_HOLDOUT_FRACTION",
    }


def test_quick_start_has_exactly_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    quick = readme[readme.index("## Quick start") : readme.index("## Using the service")]
    commands = re.findall(r"```sh\n(.+?)\n```", quick, re.DOTALL)
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    ci = (REPO / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_every_runtime_import_is_a_declared_dependency() -> None:
    import sys
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!\[; ]", d, maxsplit=1)[0].lower().replace("_", "-") for d in project["dependencies"]}
    providers = packages_distributions()
    missing = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for name in _imports(path):
                if name in PACKAGES or name in sys.stdlib_module_names:
                    continue
                distributions = {d.lower().replace("_", "-") for d in providers.get(name, [name])}
                if not distributions & declared:
                    missing.add(f"{path.relative_to(REPO)}: {name}")
    assert not missing, missing
