"""What the bad-input tests tried: examples per property, fuzzed requests, table rows; printed after the run.

Property tests run derandomized (the same examples on every run, so CI cannot flake on a new
one) with bounded example counts; SPAMFILTER_FUZZ_SCALE=10 multiplies every count and draws new
random examples, for a longer hunt by hand.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

F = TypeVar("F", bound=Callable[..., Any])

SCALE = max(int(os.environ.get("SPAMFILTER_FUZZ_SCALE", "1") or 1), 1)
TALLY: Counter[str] = Counter()
NOTES: dict[str, str] = {}


def bounded(max_examples: int) -> settings:
    """Settings for one property: this many examples, no deadline (CI machines vary), no example database."""
    return settings(
        max_examples=max_examples * SCALE,
        derandomize=SCALE == 1,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def counted(test: F) -> F:
    """Count each example a property test body runs (put it under `@given`)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        TALLY[f"{test.__module__.removeprefix('tests.')}::{test.__name__}"] += 1
        return test(*args, **kwargs)

    return run  # type: ignore[return-value]


def record(name: str, count: int = 1, note: str | None = None) -> None:
    """Add `count` to a named tally (fuzzed requests, table rows), with a line of detail."""
    TALLY[name] += count
    if note is not None:
        NOTES[name] = note


def summary() -> list[str]:
    """One line per tally, for the end of the test run."""
    lines = [f"{count:>7}  {name}" + (f"  ({NOTES[name]})" if name in NOTES else "") for name, count in TALLY.items()]
    return ["bad input: examples, requests and rows tried", *sorted(lines, key=lambda line: line[9:])] if lines else []
