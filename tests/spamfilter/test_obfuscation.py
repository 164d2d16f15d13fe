"""Obfuscated variants of spam score within 0.1 of the originals (bundled model)."""

from __future__ import annotations

import pytest

from spamfilter.artifact import LoadedModel

ORIGINALS = [
    "Check out my channel and subscribe, free money at cashprize.com",
    "Win a free iPhone now, visit prizes.com and claim your reward",
    "Make money from home, earn cash fast at workhome.net",
]


def homoglyphs(text: str) -> str:
    return text.translate(str.maketrans({"a": "а", "e": "е", "o": "о", "c": "с", "p": "р"}))


def zero_width(text: str) -> str:
    return "\u200b".join(text)


def spaced(text: str) -> str:
    return " ".join(" ".join(word) if word.isalpha() and len(word) <= 6 else word for word in text.split())


def leet(text: str) -> str:
    return " ".join(word.translate(str.maketrans("eoa", "304")) if word.isalpha() else word for word in text.split())


def dot_com(text: str) -> str:
    return text.replace(".com", "(dot)com").replace(".net", " dot net")


def spaced_link(text: str) -> str:
    return (
        text.replace("cashprize.com", "w w w . cashprize . com")
        .replace("prizes.com", "prizes [dot] com")
        .replace("workhome.net", "workhome . net")
    )


def soft_hyphens(text: str) -> str:
    return text.replace("e", "e\u00ad")


@pytest.mark.parametrize("variant", [homoglyphs, zero_width, spaced, leet, dot_com, spaced_link, soft_hyphens])
@pytest.mark.parametrize("original", ORIGINALS)
def test_obfuscated_spam_scores_like_original(bundled_model: LoadedModel, original: str, variant) -> None:
    before = bundled_model.scorer.probability(original)
    after = bundled_model.scorer.probability(variant(original))
    assert variant(original) != original
    assert abs(after - before) <= 0.1, (variant.__name__, before, after)
