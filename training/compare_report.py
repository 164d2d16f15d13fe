"""The retraining report: the candidate and the current model side by side, as one HTML file."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from training.report import png_data

SHOWN = (
    "n",
    "spam",
    "ham",
    "roc_auc",
    "pr_auc",
    "spam_caught_at_1pct_fpr",
    "spam_caught_at_0.1pct_fpr",
    "f1",
    "brier",
    "expected_calibration_error",
)
STYLE = """body{font-family:system-ui,sans-serif;max-width:80rem;margin:2rem auto;padding:0 1rem;line-height:1.4}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
td.text{text-align:left;max-width:40rem;overflow-wrap:anywhere}.better{color:#080}.worse{color:#b00}
.refused{background:#fee;padding:.5rem 1rem;border-left:4px solid #b00}.ok{background:#efe;padding:.5rem 1rem;
border-left:4px solid #080}img{max-width:100%;margin:.5rem}"""
LOWER_IS_BETTER = {"brier", "expected_calibration_error"}


def _e(value: object) -> str:
    return html.escape(str(value))


def _num(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else _e(value if value is not None else "–")


def _delta(metric: str, current: object, candidate: object) -> str:
    if not isinstance(current, int | float) or not isinstance(candidate, int | float) or metric in ("n", "spam", "ham"):
        return "<td></td>"
    change = float(candidate) - float(current)
    better = change < 0 if metric in LOWER_IS_BETTER else change > 0
    css = "" if abs(change) < 1e-9 else ("better" if better else "worse")
    return f'<td class="{css}">{change:+.4f}</td>'


def side_by_side(current: dict[str, Any], candidate: dict[str, Any], names: tuple[str, str]) -> str:
    """A metrics table: one row per metric, the two models and the change."""
    rows = "".join(
        f"<tr><th>{_e(m)}</th><td>{_num(current.get(m))}</td><td>{_num(candidate.get(m))}</td>"
        f"{_delta(m, current.get(m), candidate.get(m))}</tr>"
        for m in SHOWN
        if m in current or m in candidate
    )
    return f"<table><tr><th>metric</th><th>{_e(names[0])}</th><th>{_e(names[1])}</th><th>change</th></tr>{rows}</table>"


def _curves(scores: dict[str, Any], names: tuple[str, str]) -> list[str]:
    labels = np.asarray(scores["label"], dtype=int)
    if len(np.unique(labels)) < 2:
        return []
    roc, roc_axis = plt.subplots(figsize=(5.5, 4.2))
    pr, pr_axis = plt.subplots(figsize=(5.5, 4.2))
    for key, name in zip(("current", "candidate"), names, strict=True):
        p = np.asarray(scores[key], dtype=float)
        fpr, tpr, _ = roc_curve(labels, p)
        roc_axis.plot(fpr, tpr, label=name)
        precision, recall, _ = precision_recall_curve(labels, p)
        pr_axis.plot(recall, precision, label=name)
    roc_axis.axvline(0.01, color="tab:red", linestyle="--", linewidth=0.8, label="1% ham flagged")
    roc_axis.set(xscale="log", xlim=(1e-3, 1), xlabel="ham flagged (log)", ylabel="spam caught", title="ROC, held back")
    pr_axis.set(xlabel="recall (spam caught)", ylabel="precision", ylim=(0, 1.02), title="Precision-recall, held back")
    for axis in (roc_axis, pr_axis):
        axis.legend(loc="lower right" if axis is roc_axis else "lower left")
    return [png_data(roc), png_data(pr)]


def _per_site(per_site: dict[str, Any]) -> str:
    cells = ("n", "spam", "roc_auc", "spam_caught_at_1pct_fpr")
    head = (
        "<tr><th>site</th><th>n</th><th>spam</th><th>ROC-AUC current → candidate</th>"
        "<th>caught at 1% current → candidate</th></tr>"
    )
    rows = []
    for site, pair in per_site.items():
        cur, new = pair["current"], pair["candidate"]
        rows.append(
            f"<tr><th>{_e(site)}</th><td>{cur.get(cells[0])}</td><td>{cur.get(cells[1])}</td>"
            + "".join(f"<td>{_num(cur.get(m))} → {_num(new.get(m))}</td>" for m in cells[2:])
            + "</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _changed(rows: list[dict[str, Any]], names: tuple[str, str], label_column: bool) -> str:
    if not rows:
        return "<p>No verdict would change.</p>"
    head = (
        "<tr><th>site</th>"
        + ("<th>label</th>" if label_column else "")
        + f"<th>comment</th><th>{_e(names[0])}</th><th>{_e(names[1])}</th></tr>"
    )
    body = "".join(
        f"<tr><td>{_e(r.get('site') or '')}</td>"
        + (f"<td>{_e(r.get('label'))}</td>" if label_column else "")
        + f'<td class="text">{_e(r["text"])}</td>'
        + f"<td>{_e(r['current']['verdict'])} ({r['current']['p']:.3f})</td>"
        + f"<td>{_e(r['candidate']['verdict'])} ({r['candidate']['p']:.3f})</td></tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def _matrix(changes: dict[str, int]) -> str:
    if not changes:
        return "<p>Nothing scored.</p>"
    rows = "".join(f"<tr><th>{_e(pair)}</th><td>{n}</td></tr>" for pair, n in changes.items())
    return f"<table><tr><th>current → other</th><th>comments</th></tr>{rows}</table>"


def _protocols(current: dict[str, Any], candidate: dict[str, Any] | None, names: tuple[str, str]) -> str:
    if not candidate:
        return "<p>Not run for this candidate (<code>--no-protocols</code>).</p>"
    parts = []
    for protocol, result in candidate.items():
        before = current.get(protocol, {}).get("mean", {}).get("ours", {})
        parts.append(
            f"<h3>{_e(protocol)} (mean over splits)</h3>" + side_by_side(before, result["mean"]["ours"], names)
        )
    return "".join(parts)


def _shadow(shadow: dict[str, Any] | None) -> str:
    if not shadow or not shadow.get("total"):
        return "<p>No shadow results yet: <code>spamfilter models shadow VERSION</code> lets it score live traffic.</p>"
    rate = shadow["disagreements"] / shadow["total"]
    examples = [
        {
            **e,
            "current": {"verdict": e["current_verdict"], "p": e["current_p"]},
            "candidate": {"verdict": e["shadow_verdict"], "p": e["shadow_p"]},
        }
        for e in shadow["examples"]
    ]
    return (
        f"<p>{shadow['total']} live comments scored by both since {_e(shadow.get('since'))}; "
        f"verdicts differed on {shadow['disagreements']} ({rate:.2%}).</p>"
        + _matrix(shadow["matrix"])
        + "<h3>Latest disagreements</h3>"
        + _changed(examples, ("current", "shadow"), label_column=False)
    )


def write_comparison(
    path: Path,
    card: dict[str, Any],
    current_card: dict[str, Any],
    evaluation: dict[str, Any],
    gate: list[str],
    shadow: dict[str, Any] | None = None,
) -> None:
    """Write the side-by-side report of a candidate (`card`) against the model it was compared with."""
    names = (f"current {current_card.get('version')}", f"candidate {card.get('version')}")
    title = f"Candidate {_e(card.get('version'))} against {_e(current_card.get('version'))}"
    protocols = _protocols(
        current_card.get("metrics", {}).get("protocols", {}), card.get("metrics", {}).get("protocols"), names
    )
    held = evaluation["held_back"]
    images = "".join(f'<img alt="plot" src="data:image/png;base64,{i}">' for i in _curves(held["scores"], names))
    verdict = (
        '<p class="ok">Promotion would be accepted.</p>'
        if not gate
        else '<div class="refused"><p>Promotion would be refused without <code>--force</code>:</p><ul>'
        + "".join(f"<li>{_e(p)}</li>" for p in gate)
        + "</ul></div>"
    )
    labels = evaluation.get("labels", {})
    thresholds = ", ".join(f"{k} {v:.3f}" for k, v in card.get("thresholds", {}).items())
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{STYLE}</style></head><body>
<h1>{title}</h1>
{verdict}
<p>Stored labels: {labels.get("train", 0)} trained on ({labels.get("train_spam", 0)} spam),
{labels.get("held_back", 0)} recent ones held back ({labels.get("held_back_spam", 0)} spam),
{evaluation.get("held_back_dropped_as_near_duplicates", 0)} of them dropped as near-duplicates of training rows.
Candidate trained on {card.get("training_data", {}).get("rows_kept")} comments in
{card.get("training_seconds")} s; thresholds {_e(thresholds)}.</p>
<h2>Held-back recent labels</h2>{side_by_side(held["overall"]["current"], held["overall"]["candidate"], names)}
{images}
<h3>Per site</h3>{_per_site(held["per_site"])}
<h3>Verdict moves</h3>{_matrix(held["verdict_changes"])}
<h3>Held-back comments whose verdict would change (largest moves first)</h3>
{_changed(held["changed"], names, label_column=True)}
<h2>Corpus protocols</h2>{protocols}
<h2>Recent live comments (kept checks, unlabelled)</h2>
<p>{evaluation["traffic"]["n"]} scored by both.</p>{_matrix(evaluation["traffic"]["verdict_changes"])}
{_changed(evaluation["traffic"]["changed"], names, label_column=False)}
<h2>Shadow mode: live traffic</h2>{_shadow(shadow)}
</body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
