"""A self-contained HTML evaluation report: metrics, tier table and plots."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # reports are drawn on servers with no display

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from spamfilter.tiers import Thresholds


def png_data(figure: plt.Figure) -> str:
    """A figure as base64 PNG for an inline image (the figure is closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _roc(labels: np.ndarray, scores: np.ndarray) -> str:
    fpr, tpr, _ = roc_curve(labels, scores)
    figure, axis = plt.subplots(figsize=(5, 4))
    axis.plot(fpr, tpr, label="model")
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axis.axvline(0.01, color="tab:red", linestyle="--", linewidth=0.8, label="1% ham lost")
    axis.set(xscale="log", xlim=(1e-4, 1), xlabel="ham flagged (false positive rate, log)", ylabel="spam caught")
    axis.set_title("ROC")
    axis.legend(loc="lower right")
    return png_data(figure)


def _pr(labels: np.ndarray, scores: np.ndarray) -> str:
    precision, recall, _ = precision_recall_curve(labels, scores)
    figure, axis = plt.subplots(figsize=(5, 4))
    axis.plot(recall, precision)
    axis.set(xlabel="recall (spam caught)", ylabel="precision", ylim=(0, 1.02))
    axis.set_title("Precision-recall")
    return png_data(figure)


def _distribution(labels: np.ndarray, scores: np.ndarray, thresholds: Thresholds) -> str:
    figure, axis = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 41).tolist()
    axis.hist(scores[labels == 0], bins=bins, alpha=0.6, label="ham", color="tab:blue", log=True)
    axis.hist(scores[labels == 1], bins=bins, alpha=0.6, label="spam", color="tab:red", log=True)
    for name, value in thresholds.as_dict().items():
        axis.axvline(value, color="black", linestyle="--", linewidth=0.8)
        axis.text(value, axis.get_ylim()[1], f" {name}", rotation=90, va="top", fontsize=8)
    axis.set(xlabel="spam probability", ylabel="comments (log)")
    axis.set_title("Score distribution")
    axis.legend()
    return png_data(figure)


def _threshold_plot(labels: np.ndarray, scores: np.ndarray, thresholds: Thresholds) -> str:
    grid = np.linspace(0, 1, 201)
    ham, spam = scores[labels == 0], scores[labels == 1]
    ham_rate = [(ham >= t).mean() if len(ham) else 0 for t in grid]
    caught = [(spam >= t).mean() if len(spam) else 0 for t in grid]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(grid, caught, label="spam caught", color="tab:red")
    axis.plot(grid, ham_rate, label="ham flagged", color="tab:blue")
    for name, value in thresholds.as_dict().items():
        axis.axvline(value, color="black", linestyle="--", linewidth=0.8)
        axis.text(value, 0.5, f" {name}", rotation=90, fontsize=8)
    axis.set(xlabel="threshold on spam probability", ylabel="share at or above", ylim=(0, 1.02))
    axis.set_title("What each threshold would do")
    axis.legend()
    return png_data(figure)


def _reliability(labels: np.ndarray, scores: np.ndarray) -> str:
    edges = np.linspace(0, 1, 11)
    which = np.minimum(np.digitize(scores, edges) - 1, 9)
    present = [b for b in range(10) if (which == b).any()]
    predicted = [scores[which == b].mean() for b in present]
    observed = [labels[which == b].mean() for b in present]
    counts = [int((which == b).sum()) for b in present]
    figure, axis = plt.subplots(figsize=(5, 4))
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    axis.plot(predicted, observed, marker="o", label="model")
    for x, y, n in zip(predicted, observed, counts, strict=True):
        axis.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    axis.set(xlabel="predicted spam probability", ylabel="observed share of spam", xlim=(0, 1), ylim=(0, 1))
    axis.set_title("Calibration (comments per bin)")
    axis.legend(loc="upper left")
    return png_data(figure)


def write_report(
    path: Path,
    title: str,
    labels: np.ndarray,
    scores: np.ndarray,
    thresholds: Thresholds,
    metrics: dict[str, Any],
) -> None:
    """Write one HTML file with the metrics, the tier table and five plots."""
    y, p = np.asarray(labels), np.asarray(scores, dtype=float)
    images = []
    if len(np.unique(y)) == 2:
        images = [
            _roc(y, p),
            _pr(y, p),
            _distribution(y, p, thresholds),
            _threshold_plot(y, p, thresholds),
            _reliability(y, p),
        ]
    tiers = metrics.get("tiers", {})
    rows = "".join(
        f"<tr><th>{name}</th>" + "".join(f"<td>{count}</td>" for count in counts.values()) + "</tr>"
        for name, counts in tiers.items()
    )
    header = "".join(f"<th>{tier}</th>" for tier in next(iter(tiers.values()), {}))
    scalars = {k: v for k, v in metrics.items() if k != "tiers"}
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}}
img{{max-width:100%;margin:.5rem}}pre{{background:#f6f6f6;padding:1rem}}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Metrics</h2><pre>{html.escape(json.dumps(scalars, indent=2))}</pre>
<h2>Verdict tiers (rows: true class)</h2><table><tr><th></th>{header}</tr>{rows}</table>
<h2>Plots</h2>{"".join(f'<img alt="plot" src="data:image/png;base64,{i}">' for i in images)}
</body></html>"""
    path.write_text(body, encoding="utf-8")


def protocol_chart(protocols: dict[str, Any], path: Path) -> None:
    """Bar chart of ours vs the baseline under each protocol (mean over splits), as a PNG."""
    metrics = ("roc_auc", "spam_caught_at_1pct_fpr")
    names = list(protocols)
    figure, axes = plt.subplots(1, len(metrics), figsize=(10, 3.8))
    for axis, metric in zip(axes, metrics, strict=True):
        x = np.arange(len(names))
        ours = [protocols[n]["mean"]["ours"].get(metric, 0) for n in names]
        base = [protocols[n]["mean"]["baseline"].get(metric, 0) for n in names]
        axis.bar(x - 0.2, ours, 0.4, label="ours")
        axis.bar(x + 0.2, base, 0.4, label="baseline")
        axis.set_xticks(x, names, fontsize=8)
        axis.set_title(metric.replace("_", " "))
        axis.set_ylim(0.5 if metric == "roc_auc" else 0.0, 1.02)
    axes[0].legend(loc="lower left")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
