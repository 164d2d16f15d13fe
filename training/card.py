"""The model card: what a model was trained on, how, with what, and how well it does."""

from __future__ import annotations

import datetime as dt
import subprocess  # nosec B404  # only to ask git for the commit, with fixed arguments
from importlib import metadata
from pathlib import Path
from typing import Any

from spamfilter.artifact import library_versions
from spamfilter.normalise import FEATURE_VERSION
from spamfilter.tiers import Targets
from training.train import HEADLINE, TrainedModel

CITATIONS = [
    "T. C. Alberto, J. V. Lochter, T. A. Almeida. TubeSpam: Comment Spam Filtering on YouTube. "
    "IEEE ICMLA 2015, pp. 138-143. doi:10.1109/ICMLA.2015.37 (YouTube Spam Collection, CC BY 4.0)",
    "T. A. Almeida, J. M. Gomez Hidalgo, A. Yamakami. Contributions to the Study of SMS Spam "
    "Filtering: New Collection and Results. ACM DocEng 2011 (SMS Spam Collection, CC BY 4.0)",
]


def code_version() -> str:
    """The package version plus the git commit when run from a checkout."""
    try:
        version = metadata.version("spamfilter")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(  # nosec B603 B607  # fixed arguments, no shell; git from the operator's PATH
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"{version}+g{commit}"
    except (OSError, subprocess.SubprocessError):
        return version


def build_card(
    version: str,
    training_data: dict[str, Any],
    trained: TrainedModel,
    params: dict[str, Any],
    targets: Targets,
    protocols: dict[str, Any] | None,
) -> dict[str, Any]:
    """Everything a reader (or a loader) needs to know about a model version."""
    return {
        "name": "spamfilter",
        "version": version,
        "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "code_version": code_version(),
        "feature_version": FEATURE_VERSION,
        "libraries": library_versions(),
        "training_data": training_data,
        "parameters": params,
        "training_seconds": round(trained.seconds, 2),
        "targets": targets.as_dict(),
        "thresholds": trained.thresholds.as_dict(),
        "metrics": {"out_of_fold_validation": trained.validation, "protocols": protocols or {}},
        "citations": CITATIONS,
        "limitations": [
            "Trained on 2013-2015 YouTube comments and older UK SMS, in English; other sites, "
            "languages and years will differ. Retrain with your moderators' labels.",
            "Probabilities are calibrated to the training mix (about one comment in five is spam); "
            "a site with a different spam rate should read them as relative.",
            "Context signals (author URL, author name with a link) carry no weight until a model "
            "is trained on labels that include context.",
        ],
    }


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _data_line(data: dict[str, Any]) -> str:
    if data.get("streamed"):
        return (
            f"Streamed out of core: {data['rows_kept']} rows ({data['spam']} spam, {data['ham']} ham), "
            f"{data['stored_labels']} of them stored labels; {data['skipped_as_held_back']} skipped as "
            "repeats of held-back labels (no deduplication or near-duplicate grouping out of core)."
        )
    return (
        f"{data['rows_read']} rows read, {data['duplicates_removed']} duplicates and "
        f"{data['label_conflicts_removed']} label conflicts removed: {data['rows_kept']} kept "
        f"({data['spam']} spam, {data['ham']} ham) in {data['near_duplicate_groups']} near-duplicate groups."
    )


def render_markdown(card: dict[str, Any]) -> str:
    """A readable model card from the JSON one."""
    data = card["training_data"]
    lines = [
        f"# Model card: {card['name']} {card['version']}",
        "",
        f"Created {card['created_at']} by code {card['code_version']} (feature version "
        f"{card['feature_version']}). Artifact `{card['artifact']['file']}` SHA-256 "
        f"`{card['artifact']['sha256']}`.",
        "",
        "## Training data",
        "",
        "| file | SHA-256 | rows read | rejected | spam | ham |",
        "|---|---|---|---|---|---|",
    ]
    for f in data["files"]:
        lines.append(
            f"| {Path(f['path']).name} | `{f['sha256'][:16]}…` | {f['rows_read']} | "
            f"{f['rows_rejected']} | {f['spam']} | {f['ham']} |"
        )
    lines += [
        "",
        _data_line(data),
        "",
        "## Thresholds",
        "",
        "| tier | lowest probability | target (share of ham at most) |",
        "|---|---|---|",
    ]
    for tier in ("review", "spam", "discard"):
        lines.append(f"| {tier} | {card['thresholds'][tier]:.4f} | {card['targets'][f'{tier}_max_ham_rate']:.2%} |")
    validation = card["metrics"]["out_of_fold_validation"]
    lines += ["", "## Out-of-fold validation (grouped 5-fold, whole training set)", ""]
    lines += [f"- {key}: {_fmt(validation[key])}" for key in HEADLINE if key in validation]
    lines += ["", "## Protocols: ours vs the baseline", ""]
    lines += [
        "Baseline: TF-IDF word 1-2-grams + char_wb 2-5-grams on the raw text + LogisticRegression.",
        "Near-duplicates never straddle a split. `mean` averages the splits; `pooled` scores all",
        "held-out comments together.",
        "",
        "| protocol | aggregate | metric | ours | baseline |",
        "|---|---|---|---|---|",
    ]
    for name, protocol in card["metrics"]["protocols"].items():
        for aggregate in ("mean", "pooled"):
            for key in ("roc_auc", "pr_auc", "spam_caught_at_1pct_fpr", "spam_caught_at_0.1pct_fpr"):
                ours = protocol[aggregate]["ours"].get(key)
                base = protocol[aggregate]["baseline"].get(key)
                if ours is not None:
                    lines.append(f"| {name} | {aggregate} | {key} | {_fmt(ours)} | {_fmt(base)} |")
    lines += ["", "## Parameters and libraries", ""]
    lines += [f"- {k}: {v}" for k, v in {**card["parameters"], **card["libraries"]}.items()]
    lines += ["", "## Limitations", ""] + [f"- {item}" for item in card["limitations"]]
    lines += ["", "## Citations", ""] + [f"- {item}" for item in card["citations"]]
    return "\n".join(lines) + "\n"
