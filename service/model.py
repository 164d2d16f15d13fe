"""The serving model: loaded once per app (before gunicorn forks), shared by every request."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from spamfilter.artifact import LoadedModel, load_model


def get_model() -> LoadedModel:
    """The model this app serves."""
    model: LoadedModel = current_app.extensions["spamfilter.model"]
    return model


def init_app(app: Flask) -> None:
    """Load and verify the configured model (or the bundled one)."""
    directory = app.config.get("SPAMFILTER_MODEL_DIR")
    model = load_model(Path(directory) if directory else None)
    app.extensions["spamfilter.model"] = model
    app.extensions["spamfilter.metrics"].model.labels(model.version).set(1)
