"""`spamfilter retrain` and `spamfilter models ...`: the retraining loop and the model registry.

Like cli.py, a composition root: `training` and `service` are imported inside the commands.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from spamfilter.artifact import CURRENT_FILE, bundled_model_root, load_model, set_current
from spamfilter.cli_common import DATA_ENV, REGISTRY_OPTION, database, load_or_fail, registry_root, say
from spamfilter.registry import (
    DEFAULT_TOLERANCE,
    EVALUATION_FILE,
    RegistryError,
    clear_shadow,
    current_version,
    gate_problems,
    list_versions,
    read_card,
    read_evaluation,
    rollback,
    set_shadow,
)
from spamfilter.registry import promote as promote_version

REPORTS_DIR = "reports"


def _report_path(registry: Path, version: str) -> Path:
    return registry / REPORTS_DIR / f"{version}.html"


def _notify() -> None:
    from service.config import load_settings
    from service.model import notify_models_changed

    settings = load_settings()
    if notify_models_changed(settings):
        say("workers notified through Redis")
    else:
        say(
            f"no Redis notice sent; workers switch within SPAMFILTER_MODEL_POLL_SECONDS "
            f"({settings['SPAMFILTER_MODEL_POLL_SECONDS']:.0f}s)"
        )


def _actor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@click.command()
@click.option(
    "--data",
    "data_paths",
    type=click.Path(path_type=Path),
    multiple=True,
    envvar=DATA_ENV,
    help="Labelled corpora, files or directories (repeatable). Default: ../shared/data.",
)
@REGISTRY_OPTION
@click.option("--version", "version", help="Version name of the candidate (default: UTC date and time).")
@click.option(
    "--label-weight",
    type=click.FloatRange(min=0.0, max=100.0),
    default=3.0,
    show_default=True,
    envvar="SPAMFILTER_LABEL_WEIGHT",
    help="How much one stored label (moderator or feedback) counts against one corpus comment.",
)
@click.option(
    "--label-window-days",
    type=click.IntRange(min=0),
    default=365,
    show_default=True,
    envvar="SPAMFILTER_LABEL_WINDOW_DAYS",
    help="Only labels set in this many recent days are used (0: all).",
)
@click.option(
    "--holdout",
    "holdout",
    type=click.FloatRange(min=0.0, max=0.9),
    default=0.2,
    show_default=True,
    envvar="SPAMFILTER_HOLDOUT_FRACTION",
    help="Share of each site's most recent labels held back to compare the two models on.",
)
@click.option("--protocols/--no-protocols", default=True, show_default=True, help="Also run the corpus protocols.")
@click.option("--chunk-size", type=click.IntRange(min=100), default=5000, show_default=True, help="Labels per read.")
@click.option(
    "--out-of-core",
    is_flag=True,
    help="Stream corpora and labels through incremental fitting instead of holding them (for sets beyond memory).",
)
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Where to write the HTML comparison.")
def retrain(
    data_paths: tuple[Path, ...],
    registry: Path | None,
    version: str | None,
    label_weight: float,
    label_window_days: int,
    holdout: float,
    protocols: bool,
    chunk_size: int,
    out_of_core: bool,
    report_path: Path | None,
) -> None:
    """Train a candidate on the corpora plus stored labels, compare it with the current model, register it."""
    from service.labelexport import holdout_cutoffs, iter_labels, recent_checks
    from spamfilter.artifact import save_model
    from spamfilter.model import DEFAULT_PARAMS
    from spamfilter.tiers import Targets
    from training.card import build_card, render_markdown
    from training.compare_report import write_comparison
    from training.data import DataError, expand_paths, read_file
    from training.labels import split_labels, stream_labels
    from training.retrain import retrain as run
    from training.streamed import retrain_streaming

    root = registry_root(registry)
    current = load_or_fail(root)
    version = version or dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    if (root / version).exists():
        raise click.ClickException(f"{root / version} already exists; versions are immutable")
    engine = database()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=label_window_days) if label_window_days else None
    cutoffs = holdout_cutoffs(engine, since, holdout)
    try:
        reports = [read_file(path) for path in expand_paths(list(data_paths) or [Path("../shared/data")])]
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    for report in reports:
        say(f"read {report.path}: {report.rows_read} rows, {len(report.rejected)} rejected")

    def read() -> Any:
        return tqdm(iter_labels(engine, since, chunk_size), desc="reading labels", unit=" chunks", file=sys.stderr)

    params = dict(DEFAULT_PARAMS)
    if out_of_core:
        if protocols:
            say("the corpus protocols are not run out of core (they refit in memory); comparing on held-back labels")
        held = [row for chunk in stream_labels(read(), cutoffs, label_weight, held_back=True) for row in chunk]
        training = lambda: stream_labels(read(), cutoffs, label_weight, held_back=False)  # noqa: E731
        candidate = retrain_streaming(reports, training, held, current, params, recent_checks(engine), say)
    else:
        stored = split_labels(read(), cutoffs, label_weight)
        say(f"stored labels: {stored.summary()}")
        candidate = run(reports, stored, current, params, protocols, recent_checks(engine), say)
    card = build_card(version, candidate.summary, candidate.trained, params, Targets(), candidate.protocols)
    card["retraining"] = {
        "base": current.version,
        "label_weight": label_weight,
        "label_window_days": label_window_days,
        "holdout_fraction": holdout,
        "out_of_core": out_of_core,
        "labels": candidate.comparison["labels"],
    }
    card["comparison"] = candidate.comparison
    extra = {EVALUATION_FILE: json.dumps(candidate.evaluation) + "\n"}
    target = save_model(
        candidate.trained.model, card, root, render=render_markdown, make_current=False, extra_files=extra
    )
    problems = gate_problems(card, current.version, DEFAULT_TOLERANCE)
    report_path = report_path or _report_path(root, version)
    write_comparison(report_path, card, current.card, candidate.evaluation, problems)
    say(f"registered candidate {version} at {target}; report: {report_path}")
    for scope, figures in candidate.comparison["gate"].items():
        say(f"  {scope}: " + ", ".join(f"{m} {new:.4f} (current {old:.4f})" for m, (new, old) in figures.items()))
    if problems:
        say("promotion would be refused: " + "; ".join(problems))
    else:
        say(f"promote it with: spamfilter models promote {version}")
    click.echo(version)


@click.group()
def models() -> None:
    """List, inspect, promote, shadow and roll back model versions in the registry."""


@models.command("list")
@REGISTRY_OPTION
def models_list(registry: Path | None) -> None:
    """Every version: created, role, training rows and held-back figures against its base."""
    root = registry_root(registry)
    try:
        versions = list_versions(root)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    for v in versions:
        role = "current" if v.current else "shadow" if v.shadow else "-"
        held = v.card.get("comparison", {}).get("gate", {}).get("held-back labels", {})
        figures = " ".join(f"{m}={new:.4f}(was {old:.4f})" for m, (new, old) in held.items()) or "-"
        rows = v.card.get("training_data", {}).get("rows_kept", "?")
        click.echo(f"{v.name}\t{v.created_at}\t{role}\trows={rows}\t{figures}")


@models.command("show")
@click.argument("version")
@REGISTRY_OPTION
def models_show(version: str, registry: Path | None) -> None:
    """A version's card: data, thresholds, validation and its comparison with the model it would replace."""
    root = registry_root(registry)
    try:
        card = read_card(root, version)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    shown = {
        k: card.get(k) for k in ("version", "created_at", "code_version", "thresholds", "retraining", "comparison")
    }
    shown["training_data"] = {k: v for k, v in card.get("training_data", {}).items() if k != "files"}
    shown["out_of_fold_validation"] = card.get("metrics", {}).get("out_of_fold_validation")
    shown["role"] = "current" if current_version(root) == version else "registered"
    shown["gate"] = gate_problems(card, current_version(root), DEFAULT_TOLERANCE) or "would be accepted"
    report = _report_path(root, version)
    shown["report"] = str(report) if report.is_file() else None
    click.echo(json.dumps(shown, indent=2, default=str))


@models.command("promote")
@click.argument("version")
@REGISTRY_OPTION
@click.option("--force", is_flag=True, help="Promote even when the candidate is worse than the current model.")
@click.option(
    "--max-auc-drop", type=float, default=DEFAULT_TOLERANCE["roc_auc"], show_default=True, help="ROC-AUC tolerance."
)
@click.option(
    "--max-catch-drop",
    type=float,
    default=DEFAULT_TOLERANCE["spam_caught_at_1pct_fpr"],
    show_default=True,
    help="Tolerance on spam caught at 1% ham flagged.",
)
def models_promote(
    version: str, registry: Path | None, force: bool, max_auc_drop: float, max_catch_drop: float
) -> None:
    """Make VERSION the current model; running workers switch to it within seconds."""
    root = registry_root(registry)
    tolerance = {"roc_auc": max_auc_drop, "spam_caught_at_1pct_fpr": max_catch_drop}
    try:
        previous = promote_version(root, version, force=force, tolerance=tolerance, actor=_actor())
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    say(f"promoted {version} (was {previous})")
    _notify()


@models.command("rollback")
@REGISTRY_OPTION
def models_rollback(registry: Path | None) -> None:
    """Return to the version promoted before the current one."""
    root = registry_root(registry)
    try:
        was, now = rollback(root, actor=_actor())
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    say(f"rolled back from {was} to {now}")
    _notify()


@models.command("shadow")
@click.argument("version", required=False)
@REGISTRY_OPTION
@click.option("--off", is_flag=True, help="Stop shadow scoring.")
def models_shadow(version: str | None, registry: Path | None, off: bool) -> None:
    """Let VERSION score a sample of live checks beside the current model, without changing answers."""
    root = registry_root(registry)
    if bool(version) == off:
        raise click.ClickException("give either a VERSION or --off")
    try:
        if off:
            clear_shadow(root)
            say("shadow scoring off")
        else:
            set_shadow(root, version or "")
            say(f"{version} now scores live traffic in shadow; read it with: spamfilter models report {version}")
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    _notify()


@models.command("report")
@click.argument("version")
@REGISTRY_OPTION
@click.option(
    "--out", "out", type=click.Path(path_type=Path), help="Where to write it (default: reports/ in the registry)."
)
def models_report(version: str, registry: Path | None, out: Path | None) -> None:
    """Rewrite a candidate's comparison report, adding how it disagreed with the current model in shadow."""
    from service.shadow import read_shadow
    from training.compare_report import write_comparison

    root = registry_root(registry)
    try:
        card = read_card(root, version)
        evaluation = read_evaluation(root, version)
        if evaluation is None:
            raise RegistryError(f"{version} has no stored evaluation (it was not made by `spamfilter retrain`)")
        base = read_card(root, evaluation["against"])
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    shadow = read_shadow(database(), version)
    path = out or _report_path(root, version)
    write_comparison(
        path, card, base, evaluation, gate_problems(card, current_version(root), DEFAULT_TOLERANCE), shadow
    )
    say(f"wrote {path} ({shadow['total']} shadow checks, {shadow['disagreements']} disagreements)")


@models.command("init")
@REGISTRY_OPTION
def models_init(registry: Path | None) -> None:
    """Start a registry (SPAMFILTER_MODEL_DIR) with a copy of the bundled model as its current version."""
    if registry is None:
        raise click.ClickException("set SPAMFILTER_MODEL_DIR or --registry to the directory to create")
    if (registry / CURRENT_FILE).exists():
        raise click.ClickException(f"{registry} already holds a registry (current: {current_version(registry)})")
    bundled = load_model(bundled_model_root())
    registry.mkdir(parents=True, exist_ok=True)
    shutil.copytree(bundled.directory, registry / bundled.version, dirs_exist_ok=False)
    load_or_fail(registry / bundled.version)
    set_current(registry, bundled.version)
    say(f"registry {registry} created with {bundled.version} as current")
