"""Shadow mode: a candidate scores live checks beside the served model without changing any answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from service import shadow as shadow_module
from service.db import upgrade
from service.shadow import ShadowScorer, read_shadow
from spamfilter.artifact import LoadedModel
from spamfilter.cli import main
from spamfilter.registry import set_shadow
from spamfilter.tiers import Thresholds
from tests.conftest import add_version, site_comments
from tests.service.conftest import new_key
from tests.service.test_model_reload import OTHER_THRESHOLDS


@pytest.fixture
def shadowed(app_factory: Any, registry: Path, tmp_path: Path, bundled_model: LoadedModel) -> tuple[Flask, str]:
    """An app whose registry shadows the current model with a copy that says review from 0."""
    add_version(registry, registry / bundled_model.version, "shadowed", thresholds=OTHER_THRESHOLDS)
    set_shadow(registry, "shadowed")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    return app_factory(url, SPAMFILTER_MODEL_DIR=str(registry), SPAMFILTER_SHADOW_SAMPLE=1.0), url


def test_shadow_scores_every_sampled_check_and_answers_stay_the_current_models(
    shadowed: tuple[Flask, str], registry: Path, bundled_model: LoadedModel
) -> None:
    app, url = shadowed
    assert app.extensions["spamfilter.shadow"].model.version == "shadowed"
    client = app.test_client()
    auth = {"Authorization": f"Bearer {new_key(app)}"}
    texts = [text for text, _ in site_comments(5, 20)]
    answers = [client.post("/v1/check", json={"content": t}, headers=auth).json for t in texts]
    for text, body in zip(texts, answers, strict=True):
        expected = bundled_model.check(text, reasons=0)
        assert (body["model_version"], body["verdict"]) == (bundled_model.version, expected.verdict.value)
    app.extensions["spamfilter.shadow"].close()  # score what is queued and write it
    result = read_shadow(app.extensions["spamfilter.engine"], "shadowed")
    served = [a["verdict"] for a in answers]
    other = [Thresholds(**OTHER_THRESHOLDS).verdict(a["spam_probability"]).value for a in answers]
    differ = [t for t, a, b in zip(texts, served, other, strict=True) if a != b]
    assert result["total"] == 20 and result["disagreements"] == len(differ) > 0
    assert result["matrix"].get("ham→review", 0) == served.count("ham")
    assert {e["text"] for e in result["examples"]} == set(differ)

    report = CliRunner().invoke(
        main, ["models", "report", "shadowed"], env={"DATABASE_URL": url, "SPAMFILTER_MODEL_DIR": str(registry)}
    )
    assert report.exit_code != 0 and "has no stored evaluation" in report.output  # a copy, not a retrained candidate


def test_a_full_queue_drops_shadow_work_not_checks(
    monkeypatch: pytest.MonkeyPatch, bundled_model: LoadedModel, app: Flask
) -> None:
    monkeypatch.setattr(shadow_module, "QUEUE_SIZE", 0)
    scorer = ShadowScorer(app.extensions["spamfilter.engine"], 1.0, app.extensions["spamfilter.metrics"])
    scorer.model = bundled_model
    from spamfilter.comment import Comment, Verdict

    scorer.offer(Comment(text="hello"), "https://news.example", Verdict.HAM, 0.01, bundled_model.version)
    scorer.close()
    assert 'spamfilter_shadow_checks_total{outcome="dropped"}' in app.extensions["spamfilter.metrics"].render().decode()
