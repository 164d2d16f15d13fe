"""What the command-line modules share: messages, the model option, database sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from spamfilter.artifact import MODEL_DIR_ENV, LoadedModel, ModelLoadError, bundled_model_root, load_model

DATA_ENV = "SPAMFILTER_DATA_DIR"
MODEL_OPTION = click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    envvar=MODEL_DIR_ENV,
    help="Model registry or version directory (default: the bundled model).",
)
REGISTRY_OPTION = click.option(
    "--registry",
    type=click.Path(path_type=Path),
    envvar=MODEL_DIR_ENV,
    help="Model registry directory (default: SPAMFILTER_MODEL_DIR, else the bundled models).",
)


def say(message: str) -> None:
    """Progress and outcomes go to standard error; standard output is for results."""
    click.echo(message, err=True)


def registry_root(registry: Path | None) -> Path:
    """The registry a command works on."""
    try:
        return registry or bundled_model_root()
    except ModelLoadError as exc:
        raise click.ClickException(str(exc)) from exc


def load_or_fail(model_dir: Path | None) -> LoadedModel:
    """Load a model or stop with its error."""
    try:
        return load_model(model_dir)
    except ModelLoadError as exc:
        raise click.ClickException(str(exc)) from exc


def safe_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def sessions() -> Any:
    """A session factory on the configured database, its schema brought up to date first."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(database())


def database() -> Any:
    """An engine on the configured database, its schema brought up to date first."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.config import load_settings
    from service.db import make_engine, upgrade

    url = load_settings()["DATABASE_URL"]
    try:
        upgrade(url)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot reach the database {safe_url(url)}: {exc.__class__.__name__}") from exc
    return make_engine(url)
