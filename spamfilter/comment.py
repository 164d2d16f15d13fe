"""The comment being judged, its labels and its verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

CONTEXT_FIELDS = (
    "author",
    "author_email",
    "author_url",
    "user_ip",
    "user_agent",
    "referrer",
    "permalink",
    "type",
    "site",
    "lang",
    "created_at",
)

_LABELS = {"spam": 1, "1": 1, "ham": 0, "0": 0}


@dataclass(frozen=True, slots=True)
class Comment:
    """One submitted comment: its text plus whatever context the site sent."""

    text: str
    author: str | None = None
    author_email: str | None = None
    author_url: str | None = None
    user_ip: str | None = None
    user_agent: str | None = None
    referrer: str | None = None
    permalink: str | None = None
    type: str | None = None
    site: str | None = None
    lang: str | None = None
    created_at: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Comment:
        """Build a comment from a mapping with a `text` key and optional context keys."""
        context = {name: str(data[name]) if data.get(name) not in (None, "") else None for name in CONTEXT_FIELDS}
        return cls(text=str(data.get("text") or ""), **context)


class Verdict(StrEnum):
    """What the filter advises the site to do with a comment."""

    HAM = "ham"
    REVIEW = "review"
    SPAM = "spam"
    DISCARD = "discard"


def parse_label(value: object) -> int:
    """Turn `spam`/`ham`/1/0 (any case, surrounding space allowed) into 1 or 0."""
    key = str(value).strip().lower()
    if key not in _LABELS:
        raise ValueError(f"label must be spam, ham, 1 or 0, not {str(value)[:40]!r}")
    return _LABELS[key]


def as_comment(value: Comment | str) -> Comment:
    """Accept a bare text wherever a comment is expected."""
    return value if isinstance(value, Comment) else Comment(text=value)
