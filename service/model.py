"""The serving model, and the watcher that swaps in a promoted one while workers keep answering.

A check reads the model once (`get_model()` or the extension) and uses that object to the end,
so a swap between two checks never mixes versions; verdicts are cached per model version, so
no verdict of the old model is served for the new one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app

from service.metrics import Metrics
from service.redisclient import make_redis, redis_configured
from service.rediskeys import models_channel
from service.shadow import ShadowScorer
from spamfilter.artifact import CARD_FILE, CURRENT_FILE, LoadedModel, ModelLoadError, bundled_model_root, load_model
from spamfilter.registry import current_version, shadow_version

log = logging.getLogger("spamfilter.model")
REDIS_SETTINGS = ("REDIS_URL", "SPAMFILTER_REDIS_SENTINELS", "SPAMFILTER_REDIS_SENTINEL_SERVICE")
# A version that failed to load is tried again after this long (say, once its copy has finished).
RETRY_SECONDS = 60.0


def get_model() -> LoadedModel:
    """The model this app serves now."""
    model: LoadedModel = current_app.extensions["spamfilter.model"]
    return model


def registry_of(directory: str | None) -> Path | None:
    """The registry to watch, or None when the configuration pins one version directory."""
    root = Path(directory) if directory else bundled_model_root()
    if (root / CARD_FILE).is_file() or not (root / CURRENT_FILE).is_file():
        return None
    return root


class ModelWatcher:
    """Keeps a worker's current and shadow models in step with the registry's pointers.

    It wakes on a Redis notice (published by `spamfilter models promote`, `rollback` and
    `shadow`) or every poll interval, whichever comes first, so replicas without a working
    Redis still switch. A version that fails to load is logged once and the old one serves on.
    """

    def __init__(self, app: Flask, registry: Path | None):
        self.extensions = app.extensions
        self.registry = registry
        self.poll = float(app.config["SPAMFILTER_MODEL_POLL_SECONDS"])
        self.config = {k: app.config.get(k) for k in REDIS_SETTINGS}
        self.channel = models_channel(app.config["SPAMFILTER_REDIS_PREFIX"])
        self.failed: dict[str, float] = {}  # version → when it failed to load (retried after RETRY_SECONDS)
        self._pid = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start this process's watcher thread (threads do not survive gunicorn's fork)."""
        if self.registry is None or self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._stop.clear()
        threading.Thread(target=self._run, name="spamfilter-model-watch", daemon=True).start()

    def close(self) -> None:
        """Stop watching."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            subscription = self._subscribe()
            try:
                while not self._stop.is_set():
                    self.sync()
                    if subscription is None:
                        self._stop.wait(self.poll)
                        break  # try Redis again after one poll interval
                    subscription.get_message(ignore_subscribe_messages=True, timeout=self.poll)
            except (redis.RedisError, OSError) as exc:
                log.warning("model notices unavailable (%s); polling every %.0fs", exc.__class__.__name__, self.poll)
                self._stop.wait(self.poll)
            finally:
                if subscription is not None:
                    subscription.close()

    def _subscribe(self) -> Any:
        if not redis_configured(self.config):
            return None
        try:
            client = make_redis(self.config, self.poll + 5)
            subscription = client.pubsub()
            subscription.subscribe(self.channel)
            return subscription
        except (redis.RedisError, OSError):
            return None

    def sync(self) -> None:
        """Load whatever the registry's pointers name now, if it differs from what is loaded."""
        if self.registry is None:
            return
        with self._lock:
            model: LoadedModel = self.extensions["spamfilter.model"]
            wanted = current_version(self.registry)
            if wanted and wanted != model.version:
                loaded = self._load(wanted, "current")
                if loaded is not None:
                    self.extensions["spamfilter.model"] = loaded
                    metrics: Metrics = self.extensions["spamfilter.metrics"]
                    metrics.model.labels(model.version).set(0)
                    metrics.model.labels(loaded.version).set(1)
                    log.info("now serving model %s (was %s)", loaded.version, model.version)
            shadow: ShadowScorer = self.extensions["spamfilter.shadow"]
            wanted_shadow = shadow_version(self.registry)
            if wanted_shadow != (shadow.model.version if shadow.model else None):
                shadow.model = self._load(wanted_shadow, "shadow") if wanted_shadow else None

    def _load(self, version: str, role: str) -> LoadedModel | None:
        if time.monotonic() - self.failed.get(version, -RETRY_SECONDS) < RETRY_SECONDS:
            return None
        metrics: Metrics = self.extensions["spamfilter.metrics"]
        try:
            loaded = load_model(self.registry / version)  # type: ignore[operator]
        except (ModelLoadError, OSError, ValueError) as exc:
            self.failed[version] = time.monotonic()
            metrics.reloads.labels(role, "failed").inc()
            log.error("model %s (%s) not loaded, the previous one keeps serving: %s", version, role, exc)
            return None
        metrics.reloads.labels(role, "loaded").inc()
        return loaded


def notify_models_changed(settings: dict[str, Any]) -> bool:
    """Wake every worker sharing this Redis to re-read the registry; False when there is no Redis to tell."""
    if not redis_configured(settings):
        return False
    client = make_redis(settings, 2.0)
    try:
        client.publish(models_channel(settings["SPAMFILTER_REDIS_PREFIX"]), "changed")
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
    return True


def init_app(app: Flask) -> None:
    """Load and verify the configured model (or the bundled one); the watcher starts per worker."""
    directory = app.config.get("SPAMFILTER_MODEL_DIR")
    model = load_model(Path(directory) if directory else None)
    app.extensions["spamfilter.model"] = model
    app.extensions["spamfilter.metrics"].model.labels(model.version).set(1)
    app.extensions["spamfilter.shadow"] = ShadowScorer(
        app.extensions["spamfilter.engine"],
        app.config["SPAMFILTER_SHADOW_SAMPLE"],
        app.extensions["spamfilter.metrics"],
    )
    watcher = ModelWatcher(app, registry_of(directory))
    app.extensions["spamfilter.modelwatch"] = watcher
    watcher.sync()  # a shadow named at start-up is loaded now, not one poll later
