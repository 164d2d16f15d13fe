"""Adaptation, measured: a site whose spam looks unlike the corpora labels N comments; ops retrain and promote.

Run: python benchmarks/adaptation.py [--data ../shared/data] [--sizes 0,50,100,200] [--plot adaptation.png]

A fictional local news site gets crypto-"recovery" and investment-testimonial spam written in
fluent sentences with Telegram/WhatsApp contacts and no links, nothing like the corpora's
"check my channel" and "win a prize" spam. For each N the site sends its first N comments (of a
fixed pool of 200) through /v1/feedback, ops run `spamfilter retrain` and `spamfilter models
promote`, and a fixed held-back set of the site's comments is scored through /v1/check.
Prints ROC-AUC and spam caught at 1 % ham false positives per N; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.sitegen import SITE, SiteComment, SiteData, site_data


def _cli(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run a `spamfilter` subcommand in-process; returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from spamfilter.cli import main as spamfilter

    result = CliRunner().invoke(spamfilter, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _start_app(database_url: str, registry: Path) -> Any:
    """An app on the scenario's database and registry that only changes model when told to sync."""
    from service import create_app
    from service.db import upgrade

    upgrade(database_url)
    settings = {
        "DATABASE_URL": database_url,
        "SPAMFILTER_MODEL_DIR": str(registry),
        "SPAMFILTER_MODEL_POLL_SECONDS": 3600.0,  # the scenario syncs explicitly, so no race with a poll
        "SPAMFILTER_LOG_LEVEL": "WARNING",
        "REDIS_URL": None,  # an operator's REDIS_URL in the environment must not leak into the scenario
    }
    return create_app(settings)


def _site_key(app: Any) -> dict[str, str]:
    """The bearer header of a fresh key for the site."""
    from service.apikeys import create_key

    with app.extensions["spamfilter.sessions"]() as session:
        return {"Authorization": f"Bearer {create_key(session, SITE)[1]}"}


def send_feedback(client: Any, auth: dict[str, str], comments: list[SiteComment]) -> int:
    """Label comments through /v1/feedback by their fields, as a site's moderators would; returns labels created."""
    created = 0
    for c in comments:
        response = client.post(
            "/v1/feedback", json={"content": c.text, "author": c.author, "label": c.label}, headers=auth
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(f"feedback answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        created += response.status_code == 201
    return created


def score_held_back(client: Any, auth: dict[str, str], comments: list[SiteComment]) -> tuple[np.ndarray, set[str]]:
    """Each held-back comment's spam probability from /v1/check, and the model versions that answered."""
    scores, versions = [], set()
    for c in comments:
        response = client.post("/v1/check", json={"content": c.text, "author": c.author}, headers=auth)
        if response.status_code != 200:
            raise RuntimeError(f"check answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        scores.append(response.json["spam_probability"])
        versions.add(response.json["model_version"])
    return np.array(scores, dtype=float), versions


def retrain_and_promote(corpora: Sequence[Path], env: dict[str, str], version: str) -> dict[str, Any]:
    """`spamfilter retrain` then a plain `spamfilter models promote`; what each said and how long retrain took."""
    args = ["retrain", "--no-protocols", "--version", version]
    for path in corpora:
        args += ["--data", str(path)]
    started = time.perf_counter()
    code, out, err = _cli(args, env)
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"retrain failed ({code}): {err[-2000:]}")
    registered = out.strip().splitlines()[-1]
    gate = [line.strip() for line in err.splitlines() if line.startswith("  ") or "held back" in line]
    code, _, promote_err = _cli(["models", "promote", registered], env)
    said = [line for line in promote_err.splitlines() if line.startswith(("promoted", "Error"))]
    return {
        "version": registered,
        "retrain_seconds": seconds,
        "retrain_log": gate,
        "promoted": code == 0,
        "promote_message": said[-1] if said else promote_err.strip(),
    }


def run_scenario(
    n_labels: int,
    corpora_paths: Sequence[Path],
    workdir: Path,
    data: SiteData | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fresh registry and database; N feedback labels; retrain and promote if N > 0; score the held-back set."""
    from sklearn.metrics import roc_auc_score

    from service import close_app
    from training.metrics import spam_caught_at_fpr

    say = log or (lambda _: None)
    data = data or site_data()
    if not 0 <= n_labels <= len(data.pool):
        raise ValueError(f"n_labels must be between 0 and {len(data.pool)}")
    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    registry, database_url = workdir / "models", f"sqlite:///{workdir / 'spamfilter.db'}"
    env = {"SPAMFILTER_MODEL_DIR": str(registry), "DATABASE_URL": database_url, "REDIS_URL": ""}
    code, _, err = _cli(["models", "init"], env)
    if code != 0:
        raise RuntimeError(f"models init failed: {err.strip()}")
    app = _start_app(database_url, registry)
    try:
        client, auth = app.test_client(), _site_key(app)
        before = app.extensions["spamfilter.model"].version
        created = send_feedback(client, auth, data.pool[:n_labels])
        say(f"N={n_labels}: {created} labels stored")
        outcome: dict[str, Any] = {"version": None, "retrain_seconds": None, "retrain_log": []}
        outcome.update(promoted=None, promote_message=None)
        if n_labels > 0:
            outcome = retrain_and_promote(corpora_paths, env, f"site-n{n_labels}")
            say(
                f"N={n_labels}: candidate {outcome['version']} in {outcome['retrain_seconds']:.1f}s, "
                f"promoted={outcome['promoted']} {outcome.get('promote_message', '')}"
            )
            app.extensions["spamfilter.modelwatch"].sync()
        scores, versions = score_held_back(client, auth, data.held_back)
    finally:
        close_app(app)
    labels = np.array([c.label == "spam" for c in data.held_back], dtype=int)
    return {
        "n_labels": n_labels,
        "labels_sent": n_labels,
        "labels_created": created,
        "model_before": before,
        "model_served": versions.pop() if len(versions) == 1 else sorted(versions),
        **outcome,
        "held_back": len(labels),
        "held_back_spam": int(labels.sum()),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "caught_at_1pct_fpr": spam_caught_at_fpr(labels, scores, 0.01),
        "seconds": time.perf_counter() - started,
    }


def format_table(results: list[dict[str, Any]]) -> str:
    """One line per N: labels sent, model served, ROC-AUC, caught at 1 % FPR, retrain seconds, promoted."""
    lines = [
        f"{'N':>4}  {'labels sent':>11}  {'model':<14}  {'ROC-AUC':>7}  {'caught@1%FPR':>12}  "
        f"{'retrain s':>9}  promoted"
    ]
    for r in results:
        seconds = "-" if r["retrain_seconds"] is None else f"{r['retrain_seconds']:.1f}"
        promoted = "-" if r["promoted"] is None else "yes" if r["promoted"] else "no"
        lines.append(
            f"{r['n_labels']:>4}  {r['labels_sent']:>11}  {r['model_served']!s:<14}  {r['roc_auc']:>7.4f}  "
            f"{r['caught_at_1pct_fpr']:>12.3f}  {seconds:>9}  {promoted}"
        )
    return "\n".join(lines)


def plot_curve(results: list[dict[str, Any]], path: Path) -> None:
    """ROC-AUC and spam caught at 1 % FPR against N, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    sizes = [r["n_labels"] for r in results]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, [r["roc_auc"] for r in results], marker="o", label="ROC-AUC")
    ax.plot(sizes, [r["caught_at_1pct_fpr"] for r in results], marker="s", label="spam caught at 1 % ham FPR")
    ax.set(xlabel="site labels sent through feedback (N)", ylabel="on the site's held-back comments", ylim=(0, 1.02))
    ax.set_xticks(sizes)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Adaptation to one site's spam after retrain + promote")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the scenario for each N against the real corpora; print the table and save the curve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", help="Corpora (repeatable). Default: ../shared/data.")
    parser.add_argument("--sizes", default="0,50,100,200", help="Comma-separated N (labels sent), each ≤ 200.")
    parser.add_argument("--plot", type=Path, default=Path("adaptation.png"), help="Where to save the PNG curve.")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    corpora = args.data or [Path("../shared/data")]
    data = site_data()
    spam = sum(c.label == "spam" for c in data.held_back)
    print(
        f"site {SITE}: feedback pool {len(data.pool)} ({sum(c.label == 'spam' for c in data.pool)} spam), "
        f"held back {len(data.held_back)} ({spam} spam); {data.dropped} held-back comments dropped as "
        f"near-duplicates of the pool"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="adaptation-") as tmp:
        for n in sizes:
            result = run_scenario(n, corpora, Path(tmp) / f"n{n}", data, log=print)
            for line in result["retrain_log"]:
                print(f"  retrain: {line}")
            results.append(result)
    print()
    print(format_table(results))
    plot_curve(results, args.plot)
    print(f"\ncurve saved to {args.plot}")


if __name__ == "__main__":
    main()
