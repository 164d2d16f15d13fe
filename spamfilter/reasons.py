"""Words a moderator understands for the features behind a verdict."""

from __future__ import annotations

import heapq
from functools import lru_cache
from typing import NamedTuple

from spamfilter.features import SIGNALS
from spamfilter.normalise import Normalised

_SIGNAL_WORDING = dict(SIGNALS)


class Reason(NamedTuple):
    """One feature's push on a verdict, in log-odds: positive towards spam, negative towards ham."""

    feature: str
    weight: float

    def __str__(self) -> str:
        return f"{'+' if self.weight > 0 else '-'} {self.feature}"

    def as_dict(self) -> dict[str, object]:
        """For JSON answers."""
        return {"feature": self.feature, "weight": round(self.weight, 3)}


@lru_cache(maxsize=100_000)
def describe_token(token: str) -> str:
    """Wording for a word-level feature: a word, a phrase, or a link / e-mail / phone token."""
    if token.startswith("url:"):
        return f"link to {token[4:]}" if len(token) > 4 else "contains a link"
    if token.startswith("email:"):
        return f"e-mail address at {token[6:]}" if len(token) > 6 else "e-mail address"
    if token.startswith("phone:"):
        return "phone number"
    if " " in token:
        return f'phrase "{" ".join(describe_token(t) if ":" in t else t for t in token.split())}"'
    return f'word "{token}"'


def describe_signal(name: str, normalised: Normalised) -> str:
    """Wording for a structural signal."""
    wording = _SIGNAL_WORDING[name]
    if name == "obfuscation":
        return wording.format(tricks=", ".join(sorted(normalised.obfuscations)))
    return wording


def _strength(item: tuple[str, float]) -> float:
    return abs(item[1])


def top_reasons(contributions: dict[str, float], limit: int = 5) -> list[Reason]:
    """The strongest pushes either way, strongest first."""
    ranked = heapq.nlargest(limit, contributions.items(), key=_strength)
    return [Reason(feature, weight) for feature, weight in ranked if abs(weight) >= 0.01]


def format_reasons(reasons: list[Reason]) -> str:
    """One line for CSV output and logs: `+ link to bit.ly; - word "song"`."""
    return "; ".join(str(r) for r in reasons)
