"""Properties of the shared model code on arbitrary and adversarial input.

What the normaliser promises on any text: it never raises, its output is lowercase and
single-spaced with no invisible characters left, and it emits at least one `url:`, `email:` or
`phone:` token for each link, address or number it counted. It is idempotent on prose (letters,
marks, spaces, punctuation) but not in general: entities decode one level a pass
(`&amp;amp;` → `&amp;` → `&`), and a link whose domain starts with `www.` is re-read as a link
on every pass (`www.http://` → `url: url:www.http` → `url: url: url: url:www.http` …). Nothing
normalises twice, so only the single pass matters. Test_normalise.py holds the fixed-point test
on random text and the seven hand-made 100,000-character inputs; here the adversarial inputs
are drawn by hypothesis and time is compared across sizes.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spamfilter.artifact import LoadedModel
from spamfilter.comment import CONTEXT_FIELDS, Comment, parse_label
from spamfilter.normalise import _INVISIBLE, normalise
from tests.tally import bounded, counted, record

# Pieces of the tricks the normaliser undoes, and of what it emits, to be glued together.
FRAGMENTS = [
    *("http://", "https://", "www.", "w w w", "ww ", "bit.ly/", ".com", " dot ", "(dot)", "[.]", " . ", "com"),
    *("@", "x@y.", "&amp;", "&#8203;", "&lt;", "&gt;", "&#x41;", "&nbsp;", "<a href='", '<a href="', "<a "),
    *("<b>", "</a>", ">", "<", "f r e e", "fr33", "c4sh", "$", "0871-246-0324", "+44 ", "(0)20", "1234567"),
    *("\u200b", "\ufeff", "\u00ad", "\u202e", "а", "о", "ο", "ᴀ", "𝐟", "ｍ", "e\u0301", "\u0300\u0301\u0302\u0303"),
    *("!!!!", "aaaa", " ", "  ", "\n", "\t", ".", "-", "_", "*", "x", "A", "İ", "ß", "ǅ", "Σ", "ﬁ", "①", "½"),
    *("url:", "email:", "phone:", "mp3", "4th", "a.", "1-", "a1", "\x00", "\ud800", "é", "1", "a", "w"),
]
spammy = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=30).map("".join)
# Any code point at all, lone surrogates and NUL included: training files can carry them.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)
texts = st.one_of(spammy, any_text)
words = st.text(st.characters(categories=["L", "M"]), min_size=1, max_size=12)
prose = st.lists(st.tuples(words, st.sampled_from([" ", "  ", ", ", ". ", "! ", "? ", "\n", " - ", "'"]))).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)


@bounded(400)
@given(texts)
@counted
def test_normalise_output_is_canonical(text: str) -> None:
    result = normalise(text)
    assert result.text == " ".join(result.text.split())
    assert result.text == result.text.lower()
    assert not set(_INVISIBLE) & set(result.text)
    tokens = result.text.split()
    assert tokens.count("url:") >= len(result.domains)
    assert sum(t.startswith("email:") for t in tokens) >= result.emails
    assert tokens.count("phone:") >= result.phones


@bounded(200)
@given(prose)
@counted
def test_normalise_is_idempotent_on_prose(text: str) -> None:
    once = normalise(text).text
    assert normalise(once).text == once


@bounded(25)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4).map("".join))
@counted
def test_normalise_time_grows_linearly_on_repeats(unit: str) -> None:
    # A quadratic regex takes 16 times as long on 4 times the text; a linear one 4 times. CPU
    # time of this process, both sizes measured in the same example, so a busy machine is fair.
    def cpu_seconds(size: int) -> float:
        text = (unit * (size // len(unit) + 1))[:size]
        started = time.process_time()
        normalise(text)
        return time.process_time() - started

    small, large = cpu_seconds(5_000), cpu_seconds(20_000)
    assert large < 8 * small + 0.05, (unit, small, large)
    assert large < 5.0


comments = st.builds(
    Comment,
    text=texts,
    author=st.none() | texts,
    author_url=st.none() | st.sampled_from(["http://pills.example", "https://bit.ly/x", "", "not a url"]),
)


@pytest.mark.parametrize("which", ["small_model", "bundled_model"])
def test_lean_scorer_equals_pipeline_on_arbitrary_comments(which: str, request: pytest.FixtureRequest) -> None:
    model: LoadedModel = request.getfixturevalue(which)

    @bounded(60)
    @given(st.lists(comments, min_size=1, max_size=6))
    def lean_equals_pipeline(batch: list[Comment]) -> None:
        record(f"spamfilter.test_properties::test_lean_scorer_equals_pipeline[{which}]")
        pipeline = model.model.predict_proba(batch)[:, 1]
        lean = np.array([model.scorer.probability(c) for c in batch])
        assert np.abs(pipeline - lean).max() < 1e-6
        assert np.abs(pipeline - model.scorer.probabilities(batch)).max() < 1e-6
        explained = model.check(batch[0], reasons=5)
        assert abs(explained.spam_probability - lean[0]) < 1e-9
        assert explained.verdict is model.thresholds.verdict(explained.spam_probability)
        assert all(r.weight != 0 for r in explained.reasons)

    lean_equals_pipeline()


LABELS = {"spam": 1, "ham": 0, "1": 1, "0": 0}
spaces = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003\u3000"), max_size=3)


@bounded(200)
@given(st.sampled_from(sorted(LABELS)), st.data(), spaces, spaces)
@counted
def test_parse_label_reads_any_case_and_surrounding_space(
    label: str, data: st.DataObject, before: str, after: str
) -> None:
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in label)
    assert parse_label(before + cased + after) == LABELS[label]


@bounded(300)
@given(st.one_of(texts, st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.integers(), max_size=3)))
@counted
def test_parse_label_answers_1_0_or_one_short_value_error(value: object) -> None:
    expected = None  # floats ("1.0") and booleans ("True") are not labels
    if isinstance(value, str):
        expected = LABELS.get(value.strip().lower())
    elif type(value) is int:
        expected = {0: 0, 1: 1}.get(value)
    if expected is None:
        with pytest.raises(ValueError, match=r"^label must be spam, ham, 1 or 0, not ") as caught:
            parse_label(value)
        assert len(str(caught.value)) <= 37 + 2 + 40 * 10  # the value cut to 40 characters, then repr'd
    else:
        assert parse_label(value) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@bounded(300)
@given(st.dictionaries(st.sampled_from(["text", *CONTEXT_FIELDS, "label", "extra", "TEXT"]), json_values))
@counted
def test_comment_from_mapping_takes_any_json_object(data: dict[str, object]) -> None:
    comment = Comment.from_mapping(data)
    assert comment.text == (str(data["text"]) if data.get("text") else "")
    for name in CONTEXT_FIELDS:
        value = data.get(name)
        assert getattr(comment, name) == (None if value is None or value == "" else str(value))
