"""Liveness and readiness: no key needed."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.cache import get_cache
from service.db import get_engine
from service.model import get_model

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify({"status": "ok"})


def _database_ok() -> bool:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when the model is loaded; names Redis or the database when degraded (checks still work)."""
    model = get_model()
    components = {"model": "ok", "cache": "ok" if get_cache().healthy() else "degraded"}
    components["database"] = "ok" if _database_ok() else "degraded"
    degraded = sorted(name for name, state in components.items() if state != "ok")
    body = {
        "status": "degraded" if degraded else "ready",
        "model_version": model.version,
        "components": components,
        "degraded": degraded,
    }
    # Degraded is still 200: checks are answered (fail open); a load balancer keeps sending.
    return jsonify(body)
