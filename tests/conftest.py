"""Shared fixtures: small labelled files written per test, a small trained model, the bundled model."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import pytest

from spamfilter.artifact import LoadedModel, library_versions, load_model, save_model, set_current
from spamfilter.model import CalibratedSpamModel, build_pipeline
from spamfilter.normalise import FEATURE_VERSION
from spamfilter.tiers import Targets, choose_thresholds

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

SPAM = [
    "Check out my channel http://bit.ly/abc and subscribe!!",
    "FREE entry to win a prize, text WIN to 87121 now",
    "Make money fast working from home, visit www.cashnow.com",
    "Subscribe to my channel for free giveaways",
    "Call 0871-246-0324 to claim your cash prize now",
    "Buy cheap viagra online at pills-shop.ru",
    "Earn $500 a day from home, click http://tinyurl.com/xyz",
    "Hey guys please subscribe to my channel and like my videos",
    "Congratulations you won a free iPhone, claim at winner.xyz",
    "Visit my website for the best deals www.dealz.biz",
    "Get followers fast, check my page http://goo.gl/f00",
    "URGENT! You have won a 1000 pound cash prize, call 09061701461",
]
HAM = [
    "I love this song so much, it reminds me of summer",
    "What a great article, thanks for writing it",
    "I disagree with the author about the tax policy",
    "See you tomorrow at the station, don't be late",
    "This is the best performance I have ever seen",
    "Ok lar, joking with you, I'll call later",
    "The mayor should have answered the question directly",
    "My daughter loves this video, we watch it every day",
    "Interesting point about the housing market this year",
    "Haha that is so funny, I can't stop laughing",
    "Great goal in the second half, what a match",
    "Thanks for the update, I will read the full report",
]


def write_labelled_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    """Write rows in the project's own labelled CSV format."""
    columns = sorted({key for row in rows for key in row}, key=lambda c: (c not in ("text", "label"), c))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[object]) -> Path:
    """Write one JSON value a line (strings are written raw, to make bad lines)."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def labelled_csv(tmp_path: Path) -> Path:
    """A small labelled CSV of clearly spam and clearly ham comments."""
    rows = [{"text": t, "label": "spam"} for t in SPAM] + [{"text": t, "label": "ham"} for t in HAM]
    return write_labelled_csv(tmp_path / "labels.csv", rows)


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """A model trained in a second on the fixture comments, saved and loaded like a real one."""
    comments = SPAM + HAM
    labels = [1] * len(SPAM) + [0] * len(HAM)
    model = CalibratedSpamModel(build_pipeline(C=10.0, min_df=1), cv=3).fit(comments, labels)
    thresholds = choose_thresholds(labels, model.oof_probability_, Targets())
    card = {
        "name": "spamfilter",
        "version": "fixture-1",
        "feature_version": FEATURE_VERSION,
        "libraries": library_versions(),
        "thresholds": thresholds.as_dict(),
        "training_data": {"files": []},
    }
    registry = tmp_path_factory.mktemp("registry")
    save_model(model, card, registry)
    return load_model(registry)


@pytest.fixture(scope="session")
def bundled_model() -> LoadedModel:
    """The model committed under models/."""
    return load_model(REPO / "models")


def add_version(registry: Path, source: Path, version: str, **card_changes: object) -> Path:
    """Copy a version directory under a new name, changing its card (the artifact stays valid)."""
    target = registry / version
    shutil.copytree(source, target)
    card = json.loads((target / "model_card.json").read_text())
    card.update(version=version, **card_changes)
    (target / "model_card.json").write_text(json.dumps(card))
    return target


@pytest.fixture
def registry(tmp_path: Path, bundled_model: LoadedModel) -> Path:
    """A writable registry holding a copy of the bundled model as its current version."""
    root = tmp_path / "registry"
    root.mkdir()
    shutil.copytree(bundled_model.directory, root / bundled_model.version)
    set_current(root, bundled_model.version)
    return root


_SITE_SPAM = (
    ["My aunt", "A colleague", "Honestly my neighbour", "Last spring my brother", "Believe it or not my cousin"],
    [
        "lost her savings to a fake exchange",
        "was scammed out of his bitcoin",
        "thought the crypto wallet was gone forever",
        "had given up on the stolen coins",
    ],
    [
        "until recovery agent {name} got every coin back",
        "but investment coach {name} tripled it in weeks",
        "then trader {name} showed the signals that pay daily",
    ],
    ["message him on telegram @{handle}", "whatsapp +44 7{digits}", "reach out on telegram {handle}_recovery"],
)
_SITE_HAM = (
    ["The council", "Our school board", "The new mayor", "The transport office", "The club manager"],
    [
        "should publish the budget for the {place} bridge",
        "was wrong to close the {place} library",
        "finally fixed the traffic lights near {place}",
        "needs to explain the parking fees in {place}",
    ],
    ["before the election", "after last week's storm", "this season", "as the article says"],
    ["and I hope readers write in.", "and residents deserve answers.", "which is good news.", "frankly."],
)
_NAMES = ["Harrison", "Peterson", "Alvarez", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Fischer"]
_PLACES = ["Elm Street", "the harbour", "Northgate", "Mill Lane", "the old market", "Riverside", "Kingsway"]


def site_comments(seed: int, count: int) -> list[tuple[str, int]]:
    """A fictional news site's comments: crypto-recovery spam (no links) and local-news ham, varied by slot."""
    rng = random.Random(seed)
    comments = []
    for n in range(count):
        spam = n % 2 == 0
        slots = _SITE_SPAM if spam else _SITE_HAM
        words = " ".join(rng.choice(slot) for slot in slots).format(
            name=rng.choice(_NAMES),
            handle=f"{rng.choice(_NAMES).lower()}{rng.randint(10, 999)}",
            digits=rng.randint(100000000, 999999999),
            place=rng.choice(_PLACES),
        )
        comments.append((words, int(spam)))
    return comments


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After the run: how many examples, fuzzed requests and table rows the bad-input tests tried."""
    from tests.tally import summary

    for line in summary():
        terminalreporter.write_line(line)
