"""Features shared by training and serving: word and character n-grams plus structural signals."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import pairwise

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from spamfilter.comment import Comment, as_comment
from spamfilter.normalise import SHORTENERS, Normalised, normalise

WORD_TOKEN = re.compile(r"(?:url|email|phone):[a-z0-9.\-/]*|[^\W_]+")
SPECIAL_PREFIXES = ("url:", "email:", "phone:")
CHAR_NGRAM_RANGE = (3, 5)
# Longer "words" are blobs (hashes, base64): their first characters say all there is to say.
MAX_WORD_CHARS = 40

_MONEY = re.compile(r"[$£€]\s?\d|\d\s?(?:usd|eur|gbp|dollars?|pounds?|euros?)\b")
_LINKISH = re.compile(r"https?://|www\.|\.(?:com|net|org|info|ru|ly|tk|xyz)\b", re.IGNORECASE)
_UPPER = re.compile(r"[A-Z]")

# Name and the words a moderator reads when the signal drives a verdict.
SIGNALS: tuple[tuple[str, str], ...] = (
    ("many_links", "three or more links"),
    ("shortener", "link through a URL shortener"),
    ("email", "e-mail address"),
    ("phone", "phone number"),
    ("obfuscation", "disguised text ({tricks})"),
    ("shouting", "mostly capital letters"),
    ("exclamations", "repeated exclamation marks"),
    ("money", "sum of money"),
    ("author_url", "author gave a website"),
    ("author_link", "link in the author name"),
)
SIGNAL_NAMES = tuple(name for name, _ in SIGNALS)


def word_tokens(text: str) -> list[str]:
    """The words of a normalised text, with link, e-mail and phone tokens kept whole."""
    return WORD_TOKEN.findall(text)


def word_ngrams(text: str | list[str]) -> list[str]:
    """Word unigrams and bigrams of a normalised text (or of its already split tokens)."""
    tokens = WORD_TOKEN.findall(text) if isinstance(text, str) else text
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


@lru_cache(maxsize=200_000)
def word_char_ngrams(word: str) -> tuple[str, ...]:
    """Character n-grams of one word padded with spaces, as scikit-learn's `char_wb` makes them."""
    padded = f" {word[:MAX_WORD_CHARS]} "
    low, high = CHAR_NGRAM_RANGE
    return tuple([padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)])


def char_words(text: str | list[str]) -> list[str]:
    """The words of a normalised text (or its tokens) whose characters are features: not links."""
    tokens = WORD_TOKEN.findall(text) if isinstance(text, str) else text
    return [w for w in tokens if not w.startswith(SPECIAL_PREFIXES)]


def char_ngrams(text: str) -> list[str]:
    """All character n-grams of a normalised text, word by word."""
    grams: list[str] = []
    for word in char_words(text):
        grams.extend(word_char_ngrams(word))
    return grams


def compute_signals(comment: Comment, normalised: Normalised) -> list[float]:
    """Structural signals in [0, 1], each 0 when the context it needs is absent."""
    text = comment.text
    upper = len(_UPPER.findall(text))
    caps = 0.0
    if upper >= 6:  # fewer capitals cannot make half of the 12 letters the signal needs
        letters = sum(map(str.isalpha, text))
        caps = upper / letters if letters >= 12 else 0.0
    author = comment.author or ""
    return [
        1.0 if len(normalised.domains) >= 3 else 0.0,
        1.0 if any(d in SHORTENERS for d in normalised.domains) else 0.0,
        1.0 if normalised.emails else 0.0,
        1.0 if normalised.phones else 0.0,
        min(len(normalised.obfuscations), 2) / 2,
        max(0.0, caps - 0.5) * 2,
        1.0 if "!!" in normalised.text else 0.0,
        1.0 if _MONEY.search(normalised.text) else 0.0,
        1.0 if comment.author_url else 0.0,
        1.0 if author and _LINKISH.search(author) else 0.0,
    ]


class TextNormaliser(TransformerMixin, BaseEstimator):
    """Comments (or bare texts) in, normalised texts out."""

    def fit(self, X: Iterable[Comment | str], y: object = None) -> TextNormaliser:
        """Nothing to learn."""
        return self

    def transform(self, X: Iterable[Comment | str]) -> list[str]:
        """Normalise each comment's text."""
        return [normalise(as_comment(x).text).text for x in X]


class SignalExtractor(TransformerMixin, BaseEstimator):
    """Comments (or bare texts) in, a sparse matrix of structural signals out."""

    def fit(self, X: Iterable[Comment | str], y: object = None) -> SignalExtractor:
        """Nothing to learn."""
        return self

    def transform(self, X: Sequence[Comment | str]) -> sp.csr_matrix:
        """Compute the signals of each comment."""
        rows = []
        for x in X:
            comment = as_comment(x)
            rows.append(compute_signals(comment, normalise(comment.text)))
        return sp.csr_matrix(np.asarray(rows, dtype=np.float64).reshape(-1, len(SIGNALS)))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Signal names, so reasons can name them."""
        return np.asarray(SIGNAL_NAMES, dtype=object)


def sublinear_tf(count: int) -> float:
    """The term-frequency damping scikit-learn applies with `sublinear_tf=True`."""
    return 1.0 + math.log(count) if count > 1 else 1.0
