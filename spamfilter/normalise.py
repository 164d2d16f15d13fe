"""Text normaliser shared by training and serving: undoes the tricks spammers use to dodge filters."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

# Bumped whenever normalisation or feature extraction changes what a text becomes, because a
# pickled model built with the old behaviour would otherwise score silently differently.
FEATURE_VERSION = 1

_INVISIBLE = "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
_INVISIBLE += "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
_INVISIBLE += "\u2069\u3164\ufeff\uffa0"
_STRIP_TABLE = dict.fromkeys(map(ord, _INVISIBLE))
_INVISIBLE_IN_WORD = re.compile(f"\\w[{_INVISIBLE}]+\\w")

# Latin look-alikes from Cyrillic, Greek and a few symbol blocks that NFKC leaves alone.
_HOMOGLYPHS = {
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "ѕ": "s",
    "ԁ": "d",
    "ɡ": "g",
    "һ": "h",
    "ԛ": "q",
    "ԝ": "w",
    "ү": "y",
    "ӏ": "l",
    "ɑ": "a",
    "ᴀ": "a",
    "ʙ": "b",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ɢ": "g",
    "ʜ": "h",
    "ɪ": "i",
    "ᴊ": "j",
    "ᴋ": "k",
    "ʟ": "l",
    "ᴍ": "m",
    "ɴ": "n",
    "ᴏ": "o",
    "ᴘ": "p",
    "ʀ": "r",
    "ꜱ": "s",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ʏ": "y",
    "ᴢ": "z",
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ѡ": "w",
    "ɩ": "i",
}
_HOMOGLYPH_TABLE = str.maketrans(_HOMOGLYPHS)
_HOMOGLYPH_CHARS = "".join(_HOMOGLYPHS)
_HAS_HOMOGLYPH = re.compile(f"[{_HOMOGLYPH_CHARS}]")
_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[a-z]")
_OTHER_LETTER = re.compile(r"[^\W\d_a-z]")

_LEET_TABLE = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"(?<![\w@$])(?=[\w@$]*[a-z])(?=[\w@$]*[013457@$])[a-z0-9@$]{3,}(?![\w@$])")
_LEET_KEEP = frozenset(
    [
        "mp3",
        "mp4",
        "ps3",
        "ps4",
        "ps5",
        "3d",
        "4k",
        "4g",
        "5g",
        "3g",
        "b2b",
        "p2p",
        "h1n1",
        "covid19",
        "i5",
        "i7",
        "a4",
        "a5",
        "f1",
    ]
)
_ORDINALISH = re.compile(r"\d+[a-z]{1,2}|[a-z]\d|\w*\d{3,}\w*")

_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Bounded repeats: an unbounded lazy scan per "<a " makes a run of them quadratic.
_TAG_LINK = re.compile(r"""<a\s[^>]{0,200}?href\s*=\s*["']?([^"'\s>]{1,2000})[^>]{0,500}>""", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^>]{0,500}>")
_DOT_WORD = re.compile(r"\s*[(\[{<]\s*(?:dot|\.)\s*[)\]}>]\s*|\s+dot\s+(?=[a-z]{2,6}\b)")
_SPACED_WWW = re.compile(r"\bw[\s.]+w[\s.]+w\s*\.\s*")
_SPACED_LETTERS = re.compile(r"(?<!\S)(?:\w[ .\-*_]){3,}\w(?!\S)")
_CHAR_RUN = re.compile(r"(.)\1\1\1+")
_DIGIT = re.compile(r"\d")
_SPACED_HINT = re.compile(r"(?:^| )\w[ .\-*_]\w[ .\-*_]\w")
_DIGIT_RUN = re.compile(r"\d{3,}")

_TLDS = (
    "com|net|org|info|biz|io|ly|tk|ru|cn|de|uk|xyz|top|club|online|site|website|ws|cc|tv|gl|gd|ml|"
    "ga|cf|gq|pw|su|co|ca|au|fr|nl|pl|br|eu|es|shop|store|live|link|click|win|vip|app|blog|"
    "today|stream|download|bid|loan|work|space|fun|icu|buzz|ink|mobi|pro|name|asia"
)
_BARE_WWW = re.compile(rf"\bw{{2,3}}[ .]+([a-z0-9\-]{{2,}})[ .]+(?:dot )?((?:{_TLDS})\b)")
_SPACED_TLD = re.compile(rf"(?<=\w)\s*\.\s+(?=(?:{_TLDS})\b)|(?<=\w)\s+\.\s*(?=(?:{_TLDS})\b)")
_TLD_HINT = re.compile(rf"\. ?(?:{_TLDS})\b")
_SPACED_TLD_HINT = re.compile(rf"(?: \. ?|\. )(?:{_TLDS})\b")
# The lookbehind starts a match only where a run of address characters starts: without it, a
# long run with no "@" is rescanned from every position (quadratic time).
_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@([\w\-]+(?:\.[\w\-]+)+)")
_URL = re.compile(
    rf"(?:https?://|www\.)[^\s<>\"'()\[\]{{}}]+"
    rf"|(?<![\w.:@\-])(?:[a-z0-9\-]+\.)+(?:{_TLDS})\b(?:/[^\s<>\"'()\[\]{{}}]*)?"
)
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().\-]{5,18}\d(?!\w)")
_URL_SECTION = re.compile(r"(?:https?://)?[^/\s]+/([a-z]{2,20})(?![\w\-.])")
_TRAILING_PUNCT = ".,;:!?)]}'\""

SHORTENERS = frozenset(
    [
        "bit.ly",
        "goo.gl",
        "tinyurl.com",
        "t.co",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "adf.ly",
        "bitly.com",
        "tiny.cc",
        "cutt.ly",
        "rebrand.ly",
        "shorturl.at",
        "t.ly",
        "rb.gy",
        "v.gd",
        "bl.ink",
        "lnkd.in",
        "shorte.st",
        "ouo.io",
        "clck.ru",
    ]
)
_SECOND_LEVEL = frozenset(["co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "go"])


@dataclass(frozen=True)
class Normalised:
    """A normalised text plus what the normaliser found and undid on the way."""

    text: str
    domains: tuple[str, ...] = ()
    emails: int = 0
    phones: int = 0
    obfuscations: frozenset[str] = field(default_factory=frozenset)


def registrable_domain(host: str) -> str:
    """Reduce a host name to the part a person registers (`www.m.example.co.uk` → `example.co.uk`)."""
    labels = [label for label in host.lower().strip(".").split(".") if label]
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _url_domain(url: str) -> str:
    host = re.sub(r"^(?:https?://)?", "", url).split("/", 1)[0]
    host = host.split("?", 1)[0].split("#", 1)[0].split("@")[-1].split(":", 1)[0]
    return registrable_domain(host) if host else ""


def _fix_homoglyphs(text: str, found: set[str]) -> str:
    latin = len(_LATIN.findall(text))
    mostly_latin = latin > len(_OTHER_LETTER.findall(text))

    def fix(match: re.Match[str]) -> str:
        word = match.group()
        if not _HAS_HOMOGLYPH.search(word):
            return word
        fixed = word.translate(_HOMOGLYPH_TABLE)
        # A mixed-script word is a disguise; so is a word wholly of look-alikes in Latin text.
        if _LATIN.search(word) or (mostly_latin and not _OTHER_LETTER.search(fixed)):
            found.add("homoglyphs")
            return fixed
        return word

    return _WORD.sub(fix, text)


def _fix_leet(match: re.Match[str], found: set[str]) -> str:
    word = match.group()
    if word in _LEET_KEEP or _ORDINALISH.fullmatch(word) or sum(c.isalpha() for c in word) < 2:
        return word
    found.add("leetspeak")
    return word.translate(_LEET_TABLE)


def _join_spaced(match: re.Match[str], found: set[str]) -> str:
    found.add("spaced letters")
    return re.sub(r"[ .\-*_]", "", match.group())


def _strip_markup(text: str, found: set[str]) -> str:
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _TAG_LINK.sub(r" \1 ", text)
        text = _TAG.sub(" ", text)
    if text.isascii():
        return text
    # Invisible characters inside a word hide it; a stray BOM at the end is only an artefact.
    if _INVISIBLE_IN_WORD.search(text):
        found.add("invisible characters")
    return text.translate(_STRIP_TABLE)


def _extract_links(text: str, found: set[str]) -> tuple[str, list[str], int]:
    if "dot" in text or "[" in text or "(" in text:
        dotted = _DOT_WORD.sub(".", text)
        if dotted != text:
            found.add("disguised link")
            text = dotted
    respaced = text
    if "w w" in respaced or "w.w" in respaced:
        respaced = _SPACED_WWW.sub("www.", respaced)
    if "ww " in respaced:
        respaced = _BARE_WWW.sub(r"www.\1.\2", respaced)
    if _SPACED_TLD_HINT.search(respaced):
        respaced = _SPACED_TLD.sub(".", respaced)
    if respaced != text:
        found.add("disguised link")
        text = respaced
    if not ("@" in text or "://" in text or "www." in text or _TLD_HINT.search(text)):
        return text, [], 0
    emails = 0
    if "@" in text:

        def email(match: re.Match[str]) -> str:
            nonlocal emails
            emails += 1
            return f" email:{registrable_domain(match.group(1))} "

        text = _EMAIL.sub(email, text)
    domains: list[str] = []

    def link(match: re.Match[str]) -> str:
        url = match.group().rstrip(_TRAILING_PUNCT)
        domain = _url_domain(url)
        domains.append(domain)
        section = _URL_SECTION.match(url)
        # A bare `url:` token lets any link count, bounded by the TF-IDF norm like every word; the
        # domain says where it goes; the first path word tells a profile from a video or article.
        if section:
            return f" url: url:{domain} url:{domain}/{section.group(1).lower()} "
        return f" url: url:{domain} "

    return _URL.sub(link, text), domains, emails


def normalise(text: str) -> Normalised:
    """Normalise a comment's text: Unicode, markup, disguised links, obfuscation, runs."""
    found: set[str] = set()
    text = _strip_markup(text, found)
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        unmarked = _COMBINING.sub("", decomposed)
        # Stacks of combining marks ("zalgo" text) hide words; a few accents are just language.
        if len(decomposed) - len(unmarked) > max(3, len(unmarked) // 4):
            found.add("stacked accents")
        text = unicodedata.normalize("NFC", unmarked).lower()
        if not text.isascii():
            text = _fix_homoglyphs(text, found)
    else:
        text = text.lower()
    text = " ".join(text.split())
    if _SPACED_HINT.search(text):
        text = _SPACED_LETTERS.sub(lambda m: _join_spaced(m, found), text)
    text, domains, emails = _extract_links(text, found)
    phones = 0
    if _DIGIT.search(text):

        def phone(match: re.Match[str]) -> str:
            nonlocal phones
            if not 7 <= sum(c.isdigit() for c in match.group()) <= 15:
                return match.group()
            phones += 1
            return " phone: "

        text = _PHONE.sub(phone, text)
        text = _LEET_WORD.sub(lambda m: _fix_leet(m, found), text)
    elif "@" in text or "$" in text:
        text = _LEET_WORD.sub(lambda m: _fix_leet(m, found), text)
    text = _CHAR_RUN.sub(r"\1\1\1", text)
    if _DIGIT.search(text):
        text = _DIGIT_RUN.sub(lambda m: "0" * len(m.group()), text)
    return Normalised(" ".join(text.split()), tuple(domains), emails, phones, frozenset(found))
