"""Feedback becomes labels: one per comment and site, idempotent, the previous label kept."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from service.db import Label, LabelEvent, utcnow
from service.errors import NotFoundError, UnavailableError


@dataclass(frozen=True)
class LabelOutcome:
    """What storing a label did: `created`, `updated` (label changed) or `unchanged`."""

    id: int
    status: str
    label: str


def label_fingerprint(site: str | None, text: str, author: str | None) -> str:
    """The same comment on the same site is one label, however it was reported."""
    joined = "\x00".join((site or "", text, author or ""))
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def record_label(
    session: Session, label: str, fields: dict[str, Any], source: str, actor: str, **extra: Any
) -> LabelOutcome:
    """Store (or change) the label of a comment, with an audit event; UnavailableError when the database is down."""
    fingerprint = label_fingerprint(fields.get("site"), fields["text"], fields.get("author"))
    try:
        for _ in range(2):  # a concurrent insert of the same comment makes the first try collide
            row = session.scalars(select(Label).where(Label.fingerprint == fingerprint)).first()
            if row is not None:
                if row.label == label:
                    return LabelOutcome(row.id, "unchanged", label)
                _change(session, row, label, source, actor)
                session.commit()
                return LabelOutcome(row.id, "updated", label)
            row = Label(
                fingerprint=fingerprint,
                label=label,
                source=source,
                text=fields["text"],
                **{k: fields.get(k) for k in ("author", "author_url", "permalink", "type", "lang", "site")},
                **extra,
            )
            session.add(row)
            try:
                session.flush()
                session.add(LabelEvent(label_id=row.id, old_label=None, new_label=label, source=source, actor=actor))
                session.commit()
            except IntegrityError:
                session.rollback()
                continue
            return LabelOutcome(row.id, "created", label)
    except SQLAlchemyError as exc:
        session.rollback()
        raise UnavailableError("the database is unavailable; the label was not saved, please retry") from exc
    raise UnavailableError("the label could not be saved after a conflicting write; please retry")


def _change(session: Session, row: Label, label: str | None, source: str, actor: str) -> None:
    session.add(LabelEvent(label_id=row.id, old_label=row.label, new_label=label, source=source, actor=actor))
    row.previous_label, row.label, row.source, row.updated_at = row.label, label, source, utcnow()


MAX_ID = 2**31 - 1  # labels.id is an INTEGER column: 32 bits on PostgreSQL, which refuses larger ids


def undo_label(session: Session, label_id: int, site: str | None, actor: str) -> LabelOutcome:
    """Revert the latest change not yet undone; undo again to go further back (to no label)."""
    if not 0 < label_id <= MAX_ID:
        raise NotFoundError(f"no label {label_id} for this site", field="id")
    try:
        query = select(Label).where(Label.id == label_id)
        row = session.scalars(query if site is None else query.where(Label.site == site)).first()
        if row is None:
            raise NotFoundError(f"no label {label_id} for this site", field="id")
        # Each undo cancels the newest change still standing, so walking the history with a
        # stack leaves the changes that can still be undone, newest on top.
        standing: list[LabelEvent] = []
        for event in label_history(session, row.id):
            if event.source == "undo":
                if standing:
                    standing.pop()
            else:
                standing.append(event)
        if not standing:
            raise NotFoundError(f"label {label_id} has no change left to undo", field="id")
        _change(session, row, standing[-1].old_label, "undo", actor)
        session.commit()
        return LabelOutcome(row.id, "undone", row.label or "none")
    except SQLAlchemyError as exc:
        session.rollback()
        raise UnavailableError("the database is unavailable; nothing was undone, please retry") from exc


def label_history(session: Session, label_id: int) -> list[LabelEvent]:
    """A label's audit events, oldest first."""
    return list(session.scalars(select(LabelEvent).where(LabelEvent.label_id == label_id).order_by(LabelEvent.id)))
