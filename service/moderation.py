"""The moderators' web page: login, the queue worked through from the keyboard, undo."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response as BaseResponse

from service.db import Label, StoredCheck, get_session
from service.errors import RateLimitedError, UnauthorizedError, UnavailableError, ValidationError
from service.labels import label_history, undo_label
from service.moderators import session_secret, verify_moderator
from service.ratelimit import get_limiter
from service.reviews import MAX_BULK, decide_check, ensure_all_kept, label_of, review_page
from service.stats import collect_stats
from service.validation import json_body
from service.webhooks import delivery_stats, get_deliverer, notify_if_changed

bp = Blueprint("moderation", __name__, url_prefix="/moderation")


class SessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose cookie is `Secure` whenever the page came over HTTPS."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Load the shared signing key on the first moderation request (sessions open before any hook)."""
        if not app.secret_key and request.path.startswith(bp.url_prefix or "/moderation"):
            try:
                app.secret_key = session_secret(app.extensions["spamfilter.engine"])
            except SQLAlchemyError:
                return None  # the page's own hook answers 503
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure over HTTPS (directly or as the proxy says), plain on a local HTTP test."""
        return bool(request.is_secure or request.headers.get("X-Forwarded-Proto") == "https")


@bp.before_request
def _signing_key() -> None:
    get_deliverer(current_app).ensure_running()  # outside gunicorn (whose workers start it at fork)
    # The key is made once and kept in the database, so every worker and replica signs alike.
    if not current_app.secret_key:
        raise UnavailableError("the database is unavailable; the moderation page cannot start")


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _check_csrf(given: str | None) -> None:
    expected = session.get("csrf")
    # Bytes: compare_digest refuses non-ASCII str, and a forged token may be anything.
    if not expected or not given or not hmac.compare_digest(str(expected).encode(), given.encode("utf-8", "replace")):
        raise UnauthorizedError("missing or wrong CSRF token; reload the page")


def _moderator() -> str:
    name = session.get("moderator")
    if not name:
        raise UnauthorizedError("log in to moderate")
    return str(name)


@bp.get("/login")
def login_form() -> str:
    """The login form."""
    return render_template("login.html", csrf=_csrf_token(), error=None)


@bp.post("/login")
def login() -> BaseResponse | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Check the password and start a session."""
    _check_csrf(request.form.get("csrf_token"))
    name, password = request.form.get("name", ""), request.form.get("password", "")
    try:
        # Counted before the password is checked, per address and per name: guessing is slowed
        # to a few tries per 15 minutes, and refused tries cost no scrypt work.
        succeeded = get_limiter().login_attempt(request.environ, name)
    except RateLimitedError as exc:
        error = f"Too many login attempts; try again in {(exc.retry_after + 59) // 60} min."
        return render_template("login.html", csrf=_csrf_token(), error=error), 429, exc.headers()
    try:
        moderator = verify_moderator(get_session(), name, password)
    except SQLAlchemyError as exc:
        raise UnavailableError("the database is unavailable; try logging in again shortly") from exc
    if moderator is None:
        return render_template("login.html", csrf=_csrf_token(), error="Wrong name or password."), 401
    succeeded()
    session.clear()  # a fresh session (and CSRF token) on login: no fixation
    session.permanent = True
    session["moderator"] = moderator.name
    return redirect(url_for("moderation.queue_page"))


@bp.post("/logout")
def logout() -> BaseResponse:
    """End the session."""
    _check_csrf(request.form.get("csrf_token"))
    session.clear()
    return redirect(url_for("moderation.login_form"))


def _page(template: str) -> BaseResponse | str:
    if not session.get("moderator"):
        return redirect(url_for("moderation.login_form"))
    return render_template(template, csrf=_csrf_token(), moderator=session["moderator"])


@bp.get("")
def queue_page() -> BaseResponse | str:
    """The queue page (its data comes from the JSON routes below)."""
    return _page("moderation.html")


@bp.get("/api/queue")
def queue() -> Response:
    """The queue across sites (or one, with `site=`), most uncertain first."""
    _moderator()
    return jsonify(review_page(request.args.get("site") or None))


@bp.post("/api/decide/<check_id>")
def decide(check_id: str) -> Response:
    """A moderator's label for a kept check."""
    name = _moderator()
    _check_csrf(request.headers.get("X-CSRF-Token"))
    label = label_of(json_body(request))
    return jsonify(decide_check(check_id, label, None, "moderator", f"moderator:{name}", None))


@bp.post("/api/bulk")
def bulk() -> Response:
    """One decision for many kept checks (the filtered selection the page shows)."""
    name = _moderator()
    _check_csrf(request.headers.get("X-CSRF-Token"))
    body = json_body(request)
    label, ids = label_of(body), body.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BULK:
        raise ValidationError(f"ids must be a list of 1 to {MAX_BULK} check ids", field="ids")
    ensure_all_kept(ids, None)
    results = [decide_check(i, label, None, "moderator", f"moderator:{name}", None) for i in dict.fromkeys(ids)]
    return jsonify({"results": results})


@bp.get("/stats")
def stats_page() -> BaseResponse | str:
    """Charts: volume and verdicts over time, by site; overturns; model versions."""
    return _page("stats.html")


@bp.get("/api/stats")
def stats() -> Response:
    """The figures behind the stats page, from kept checks and labels of the last `days` days."""
    _moderator()
    raw = request.args.get("days", "30")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 366:
        raise ValidationError("days must be a whole number from 1 to 366", field="days")
    try:
        figures = collect_stats(get_session(), int(raw), current_app.config["SPAMFILTER_HAM_SAMPLE"])
    except SQLAlchemyError as exc:
        raise UnavailableError("the database is unavailable; statistics cannot be read now") from exc
    figures["ham_sample"] = current_app.config["SPAMFILTER_HAM_SAMPLE"]
    figures["webhooks"] = delivery_stats(get_session())
    return jsonify(figures)


@bp.post("/api/undo/<int:label_id>")
def undo(label_id: int) -> Response:
    """Undo a label's latest change."""
    name = _moderator()
    _check_csrf(request.headers.get("X-CSRF-Token"))
    outcome = undo_label(get_session(), label_id, None, f"moderator:{name}")
    _notify_after_undo(label_id, f"moderator:{name}")
    history: list[dict[str, Any]] = [
        {"old": e.old_label, "new": e.new_label, "source": e.source, "actor": e.actor, "at": e.created_at.isoformat()}
        for e in label_history(get_session(), label_id)
    ]
    label = None if outcome.label == "none" else outcome.label
    return jsonify({"label_id": outcome.id, "label": label, "history": history})


def _notify_after_undo(label_id: int, actor: str) -> None:
    """An undo changes the effective verdict too: the site hears of it like of a decision."""
    session = get_session()
    try:
        label = session.get(Label, label_id)
        check = (
            session.scalars(select(StoredCheck).where(StoredCheck.fingerprint == label.fingerprint)).first()
            if label
            else None
        )
        if label is not None and check is not None:
            notify_if_changed(session, check, label.label, actor)
    except SQLAlchemyError as exc:
        raise UnavailableError("the undo was saved but the site's webhook could not be queued") from exc


def init_app(app: Flask) -> None:
    """Cookie settings for the moderators' sessions."""
    app.session_interface = SessionInterface()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="spamfilter_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
    )
