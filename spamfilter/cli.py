"""The `spamfilter` command line: the composition root that wires training and scoring together.

This is the only module of the `spamfilter` package that imports `training`, and it does so
inside the commands, so serving never loads training code or data.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
from tqdm import tqdm

from spamfilter.artifact import ModelLoadError
from spamfilter.bulk import InputError, score_csv
from spamfilter.cli_common import DATA_ENV, MODEL_OPTION, database, load_or_fail, safe_url, say, sessions
from spamfilter.cli_models import models, retrain


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spamfilter")
def main() -> None:
    """Self-hosted comment spam filter: train, evaluate, score and serve."""


@main.command()
@click.option(
    "--data",
    "data_paths",
    type=click.Path(path_type=Path),
    multiple=True,
    envvar=DATA_ENV,
    help="Labelled data files or directories (repeatable). Default: ../shared/data.",
)
@click.option(
    "--out",
    "registry",
    type=click.Path(path_type=Path),
    default=Path("models"),
    show_default=True,
    help="Model registry directory to add the new version to.",
)
@click.option("--version", "version", help="Version name (default: UTC date and time).")
@click.option(
    "--protocols/--no-protocols",
    default=True,
    show_default=True,
    help="Also evaluate ours and the baseline under every protocol for the card.",
)
@click.option(
    "--current/--no-current", default=True, show_default=True, help="Point the registry's CURRENT at the new version."
)
@click.option("-C", "C", type=click.FloatRange(min=1e-6), help="Inverse regularisation strength.")
@click.option("--min-df", type=click.IntRange(min=1), help="Drop n-grams seen in fewer documents.")
def train(
    data_paths: tuple[Path, ...],
    registry: Path,
    version: str | None,
    protocols: bool,
    current: bool,
    C: float | None,
    min_df: int | None,
) -> None:
    """Train a model on labelled data and write it with its model card."""
    from spamfilter.artifact import save_model
    from spamfilter.model import DEFAULT_PARAMS
    from spamfilter.tiers import Targets
    from training.card import build_card, render_markdown
    from training.data import DataError
    from training.dataset import load_dataset
    from training.report import protocol_chart
    from training.train import fit_model, run_protocols

    params = {**DEFAULT_PARAMS, **{k: v for k, v in {"C": C, "min_df": min_df}.items() if v is not None}}
    version = version or dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    if (registry / version).exists():
        raise click.ClickException(f"{registry / version} already exists; versions are immutable")
    try:
        dataset = load_dataset(list(data_paths) or [Path("../shared/data")], log=say)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    if len(set(dataset.labels.tolist())) < 2:
        raise click.ClickException("the data needs both spam and ham to train on")
    say(f"fitting the model ({len(dataset.rows)} comments, 5 calibration folds + final fit)...")
    trained = fit_model(dataset, params)
    say(f"fitted in {trained.seconds:.1f}s; thresholds {trained.thresholds.as_dict()}")
    protocol_metrics = run_protocols(dataset, params, log=say) if protocols else None
    card = build_card(version, dataset.summary(), trained, params, Targets(), protocol_metrics)
    target = save_model(trained.model, card, registry, render=render_markdown, make_current=current)
    if protocol_metrics:
        protocol_chart(protocol_metrics, target / "protocols.png")
    say(f"wrote {target}")


@main.command()
@MODEL_OPTION
@click.option(
    "--data",
    "data_paths",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="Labelled data files or directories (repeatable).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=Path("evaluation.html"),
    show_default=True,
    help="Where to write the HTML report.",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the metrics as JSON here.")
def evaluate(model_dir: Path | None, data_paths: tuple[Path, ...], report_path: Path, json_path: Path | None) -> None:
    """Score labelled data with a model; print metrics and write an HTML report with plots."""
    from training.data import DataError
    from training.dataset import load_dataset
    from training.metrics import summarise
    from training.report import write_report

    model = load_or_fail(model_dir)
    try:
        dataset = load_dataset(list(data_paths), log=say)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    trained_on = {f["sha256"] for f in model.card.get("training_data", {}).get("files", [])}
    if trained_on & {f.sha256 for f in dataset.files}:
        say("warning: some of this data trained the model; these figures are optimistic")
    scores = np.array([model.scorer.probability(c) for c in tqdm(dataset.comments, unit="comments", file=sys.stderr)])
    verdicts = [model.thresholds.verdict(p).value for p in scores]
    metrics: dict[str, Any] = {"model_version": model.version, **summarise(dataset.labels, scores, verdicts)}
    click.echo(json.dumps(metrics, indent=2))
    write_report(report_path, f"Evaluation of {model.version}", dataset.labels, scores, model.thresholds, metrics)
    if json_path:
        json_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    say(f"wrote {report_path}")


@main.command()
@MODEL_OPTION
@click.option(
    "--input",
    "source",
    type=click.Path(path_type=Path),
    required=True,
    help="CSV with a `text` column and optional context columns.",
)
@click.option(
    "--output", "target", type=click.Path(path_type=Path), required=True, help="Where to write the scored CSV."
)
@click.option(
    "--reasons",
    type=click.IntRange(min=0, max=20),
    default=3,
    show_default=True,
    help="Reasons per comment; 0 leaves the column empty and scores about twice as fast.",
)
def score(model_dir: Path | None, source: Path, target: Path, reasons: int) -> None:
    """Score a CSV of comments: adds spam_probability, verdict and reasons to every row."""
    model = load_or_fail(model_dir)
    started = time.perf_counter()
    try:
        written = score_csv(model, source, target, reasons=reasons)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    seconds = time.perf_counter() - started
    say(f"scored {written} comments with model {model.version} in {seconds:.1f}s into {target}")


@main.command()
@click.option(
    "--bind", default="127.0.0.1:8000", show_default=True, envvar="SPAMFILTER_BIND", help="HOST:PORT to listen on."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    envvar="SPAMFILTER_WORKERS",
    help="Worker processes.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    envvar="SPAMFILTER_THREADS",
    help="Threads per worker: 1 runs sync workers (put a buffering proxy in front); more runs gthread.",
)
def serve(bind: str, workers: int, threads: int) -> None:
    """Run the HTTP service under gunicorn with the configured (or bundled) model."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.server import serve as run

    try:
        run(bind, workers, threads)
    except ModelLoadError as exc:
        raise click.ClickException(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot reach the database: {exc.__class__.__name__}") from exc


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (serve does this too)."""
    engine = database()
    say(f"database schema is current ({safe_url(str(engine.url))})")
    engine.dispose()


@main.command()
@click.option("--older-than", "age", required=True, help="Age such as 90d, 12h or 30m: older kept checks are deleted.")
def purge(age: str) -> None:
    """Delete kept checks and check records older than an age (labels stay: they are training data)."""
    import re

    from service.retention import purge_older_than

    match = re.fullmatch(r"(\d{1,6})([dhm])", age.strip())
    if not match:
        raise click.ClickException(f"--older-than takes a number and d, h or m (such as 90d), not {age!r}")
    seconds = int(match.group(1)) * {"d": 86400, "h": 3600, "m": 60}[match.group(2)]
    if seconds > 100 * 365 * 86400:
        raise click.ClickException("--older-than goes up to 100 years")
    counts = purge_older_than(sessions(), dt.timedelta(seconds=seconds))
    say(f"deleted {counts['checks']} kept checks and {counts['check_records']} check records older than {age}")


@main.group()
def moderators() -> None:
    """Create moderator accounts for the /moderation page."""


@moderators.command("create")
@click.option("--name", required=True, help="The moderator's login name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
def moderators_create(name: str, password_stdin: bool) -> None:
    """Create a moderator (the password is asked for, or read from standard input)."""
    from service.moderators import create_moderator

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with sessions()() as session:
        try:
            row = create_moderator(session, name, password)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        say(f"created moderator {row.name}")


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--site", required=True, help="The site's URL, e.g. https://news.example.")
def keys_create(site: str) -> None:
    """Create a key for a site; the last line printed is the key (shown only this once)."""
    from service.apikeys import create_key

    with sessions()() as session:
        try:
            row, key = create_key(session, site)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        say(f"created key {row.id} ({row.key_prefix}…) for {row.site}; store it now, it is not shown again")
    click.echo(key)


@keys.command("list")
def keys_list() -> None:
    """List keys: id, prefix, site, created, revoked."""
    from service.apikeys import list_keys

    with sessions()() as session:
        for row in list_keys(session):
            revoked = row.revoked_at.isoformat() if row.revoked_at else "-"
            click.echo(f"{row.id}\t{row.key_prefix}\t{row.site}\t{row.created_at.isoformat()}\trevoked: {revoked}")


@keys.command("webhook")
@click.argument("key")
@click.option("--url", help="Where to send signed notices when a moderator changes a verdict.")
@click.option("--remove", is_flag=True, help="Stop sending notices for this key.")
def keys_webhook(key: str, url: str | None, remove: bool) -> None:
    """Set a key's webhook; the last line printed is its signing secret (shown only this once)."""
    from service.apikeys import find_key
    from service.webhooks import set_webhook

    if bool(url) == remove:
        raise click.ClickException("give either --url URL or --remove")
    with sessions()() as session:
        try:
            secret = set_webhook(session, find_key(session, key), None if remove else url)
        except (LookupError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    if secret is None:
        say("webhook removed")
    else:
        say("webhook set; sign-check notices with this secret, it is not shown again")
        click.echo(secret)


@keys.command("revoke")
@click.argument("key")
def keys_revoke(key: str) -> None:
    """Revoke a key by its id or prefix."""
    from service.apikeys import revoke_key

    with sessions()() as session:
        try:
            row = revoke_key(session, key)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
        say(f"revoked key {row.id} ({row.key_prefix}…) for {row.site}")


main.add_command(retrain)
main.add_command(models)

if __name__ == "__main__":
    main()
