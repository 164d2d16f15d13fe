"""`spamfilter serve`: gunicorn running the app, the model loaded once before workers fork."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class Server(BaseApplication):
    """A gunicorn application around an already-built Flask app (preloaded: shared model pages)."""

    def __init__(self, app: Flask, options: dict[str, Any]):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Hand our options to gunicorn."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """The app every worker serves."""
        return self.application


def _post_fork(server: Any, worker: Any) -> None:
    # Connections opened in the master must not be shared by the children.
    app: Flask = server.app.application
    app.extensions["spamfilter.engine"].dispose(close=False)
    app.extensions["spamfilter.webhooks"].ensure_running()  # pending notices go out from every worker
    app.extensions["spamfilter.modelwatch"].ensure_running()  # promoted models reach every worker


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def serve(bind: str, workers: int, threads: int) -> None:
    """Migrate the database, build the app (loading the model) and run gunicorn."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="spamfilter-metrics-")
    from service import create_app
    from service.config import load_settings
    from service.db import upgrade

    upgrade(load_settings()["DATABASE_URL"])
    app = create_app()
    options = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "preload_app": True,
        "post_fork": _post_fork,
        "child_exit": _child_exit,
        "timeout": 30,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": None,
    }
    Server(app, options).run()
