"""The HTTP service: a Flask app factory wiring the store, cache, model and routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from service import (
    akismet,
    api,
    apikeys,
    cache,
    checks,
    db,
    errors,
    fastpath,
    health,
    logs,
    metrics,
    model,
    moderation,
    openapi,
    ratelimit,
    reviews,
    webhooks,
)
from service.config import load_settings


def close_app(app: Flask) -> None:
    """Flush queued writes, stop background threads and close database connections."""
    app.extensions["spamfilter.modelwatch"].close()
    app.extensions["spamfilter.webhooks"].close()
    app.extensions["spamfilter.shadow"].close()
    app.extensions["spamfilter.checker"].close()
    app.extensions["spamfilter.cache"].close()
    app.extensions["spamfilter.engine"].dispose()


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then `test_config` on top."""
    app = Flask(__name__)
    app.config.update(load_settings(test_config))
    app.config["MAX_CONTENT_LENGTH"] = app.config["SPAMFILTER_MAX_BODY_BYTES"]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    logs.configure_logging(app.config["SPAMFILTER_LOG_LEVEL"])
    metrics.init_app(app)
    db.init_app(app)
    apikeys.init_app(app)
    cache.init_app(app)
    ratelimit.init_app(app)
    model.init_app(app)
    checks.init_app(app)
    errors.init_app(app)
    logs.init_app(app)
    moderation.init_app(app)
    for blueprint in (health.bp, openapi.bp, api.bp, reviews.bp, akismet.bp, moderation.bp):
        app.register_blueprint(blueprint)
    webhooks.init_app(app)
    fastpath.init_app(app)
    return app
