"""The normaliser undoes obfuscation and turns links, e-mails and phone numbers into tokens."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spamfilter.normalise import normalise, registrable_domain


@pytest.mark.parametrize(
    ("raw", "expected", "trick"),
    [
        ("Check http://bit.ly/abc123 now", "check url: url:bit.ly now", None),
        ("FREE cаsh nоw", "free cash now", "homoglyphs"),  # Cyrillic а and о
        ("f r e e  m o n e y", "freemoney", "spaced letters"),
        ("visit site(dot)com today", "visit url: url:site.com today", "disguised link"),
        ("visit site [dot] com today", "visit url: url:site.com today", "disguised link"),
        ("w w w . spam . com", "url: url:spam.com", "disguised link"),
        ("go to example dot com now", "go to url: url:example.com now", "disguised link"),
        ("fr33 v1agra h0t c4sh", "free viagra hot cash", "leetspeak"),
        ("z\u200be\u200bro width", "zero width", "invisible characters"),
        ("soft\u00adhyphen", "softhyphen", "invisible characters"),
        ("𝐟𝐫𝐞𝐞 ｍｏｎｅｙ", "free money", None),  # NFKC: maths bold and full width
        ("sooooooo goooood!!!!!!", "sooo goood!!!", None),
        ("Call 0871-246-0324 now", "call phone: now", None),
        ("mail Joe.Bloggs@Gmail.com", "mail email:gmail.com", None),
        ("&lt;#&gt; &amp; fish", "<#> & fish", None),
        (
            '<a href="http://www.youtube.com/watch?v=x">3:40</a><br />best',
            "url: url:youtube.com url:youtube.com/watch 3:40 best",
            None,
        ),
        ("mp3 4th 10am b4", "mp3 4th 10am b4", None),
        ("café naïve", "cafe naive", None),
    ],
)
def test_normalise_table(raw: str, expected: str, trick: str | None) -> None:
    result = normalise(raw)
    assert result.text == expected
    if trick:
        assert trick in result.obfuscations
    else:
        assert not result.obfuscations


@pytest.mark.parametrize(
    ("text", "domains", "emails", "phones"),
    [
        ("see https://www.m.example.co.uk/a and http://t.co/x", ("example.co.uk", "t.co"), 0, 0),
        ("write to a@b.org or c@d.net", (), 2, 0),
        ("ring +44 (0)20 7946 0958", (), 0, 1),
        ("text WIN to 87121", (), 0, 0),  # a short code is not a phone number
    ],
)
def test_normalise_counts(text: str, domains: tuple[str, ...], emails: int, phones: int) -> None:
    result = normalise(text)
    assert (result.domains, result.emails, result.phones) == (domains, emails, phones)


def test_pure_cyrillic_words_are_left_alone() -> None:
    assert normalise("Привет как дела").text == "привет как дела"


@pytest.mark.parametrize(
    ("host", "expected"),
    [("www.example.com", "example.com"), ("a.b.example.co.uk", "example.co.uk"), ("bit.ly", "bit.ly")],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_normalise_never_fails_and_is_lowercase_single_spaced(text: str) -> None:
    result = normalise(text)
    assert "  " not in result.text
    assert result.text == result.text.strip()
    assert "\u200b" not in result.text and "\ufeff" not in result.text
    assert len(result.domains) <= len(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_normalise_is_stable_on_its_own_output(text: str) -> None:
    once = normalise(text).text
    assert normalise(once).text == normalise(normalise(once).text).text


@pytest.mark.parametrize(
    "text",
    [
        "a." * 49_999 + "@",
        "<a " * 33_000,
        '<a href="' * 11_000,
        "a1" * 50_000,
        "1-" * 50_000,
        "аa" * 50_000,
        "x@y." * 25_000,
    ],
    ids=["email-run", "tag-run", "href-run", "leet-run", "phone-run", "homoglyph-run", "at-run"],
)
def test_adversarial_inputs_stay_linear(text: str) -> None:
    # A guard against catastrophic backtracking, not a speed target: quadratic regexes took
    # 20 s and more on these 100,000-character inputs; linear ones take well under a second.
    started = time.perf_counter()
    normalise(text)
    assert time.perf_counter() - started < 3.0
