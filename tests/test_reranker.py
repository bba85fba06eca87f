"""The re-ranker: trained by time split, beats the stage-1 order, explains itself, and its
artifact is checked against the feature registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.config import load_config
from engine.engine import Engine
from engine.errors import ArtifactError, InvalidRequestError
from engine.features import feature_names
from engine.ranking.metrics import ranking_metrics
from engine.ranking.training import Splits, evaluate
from engine.requests import RecommendRequest


def test_metrics_on_a_hand_made_list() -> None:
    # One group; the positive (label 1) at rank 2 of 3, the purchase (label 2) at rank 1.
    scores = np.array([3.0, 2.0, 1.0, 5.0, 4.0])
    labels = np.array([2, 1, 0, 0, 1])
    groups = np.array([0, 0, 0, 1, 1])
    metrics = ranking_metrics(scores, labels, groups, k=2)
    ideal0 = 3 + 1 / np.log2(3)
    ndcg0 = (3 + 1 / np.log2(3)) / ideal0
    ndcg1 = (1 / np.log2(3)) / 1.0
    assert metrics["ndcg@2"] == pytest.approx((ndcg0 + ndcg1) / 2)
    assert metrics["recall@2"] == pytest.approx(1.0)
    assert metrics["mrr"] == pytest.approx((1.0 + 0.5) / 2)
    assert metrics["groups"] == 2


def test_splits_follow_time(engine: Engine) -> None:
    splits = Splits.of(engine.dataset)
    assert splits.start < splits.train_from < splits.validation_from < splits.test_from < splits.end
    assert splits.end == engine.dataset.now


def test_reranker_beats_the_stage1_order_on_the_test_split(engine: Engine, small_config: Path) -> None:
    report = evaluate(engine.dataset, engine.reranker, load_config(small_config).model)
    assert report["reranked"]["groups"] > 100
    for metric in ("ndcg@10", "mrr"):
        assert report["reranked"][metric] > report["stage1"][metric] * 1.05, metric
    manifest = engine.reranker.manifest
    assert manifest["features"] == feature_names() and manifest["trees"] == 40
    assert manifest["report"]["test"]["lift"]["ndcg@10"] > 0.05


def test_explanations_add_up_to_the_score(engine: Engine) -> None:
    response = engine.recommend(RecommendRequest(8, k=5))
    first, second = response.items[0].item_id, response.items[1].item_id
    alone = engine.explain(response, first)
    assert len(alone.contributions) == 8
    row = int(np.flatnonzero(response.candidates.candidates.item_ids == first)[0])
    shap = engine.reranker.shap(response.features[[row]])[0]
    assert shap.sum() == pytest.approx(response.scores[row], abs=1e-4)
    assert abs(alone.contributions[0].contribution) >= abs(alone.contributions[-1].contribution)
    pair = engine.explain(response, first, second)
    assert pair.other_id == second and pair.contributions[0].other_value is not None
    with pytest.raises(InvalidRequestError, match="not among this response"):
        engine.explain(response, 10**6)


def _copy_with_model(small_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(small_dir, copy)
    return copy


def test_model_trained_on_other_features_is_refused(small_dir: Path, tmp_path: Path) -> None:
    copy = _copy_with_model(small_dir, tmp_path)
    manifest_path = copy / "model" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["features"] = [*manifest["features"][:-1], "x_removed_feature"]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(
        ArtifactError, match=r"trained on other features \(missing \['x_days_since_category_click'\]"
    ):
        Engine.open(copy).recommend(RecommendRequest(1))


def test_truncated_or_missing_model_file_is_refused(small_dir: Path, tmp_path: Path) -> None:
    copy = _copy_with_model(small_dir, tmp_path)
    model_file = copy / "model" / "model.cbm"
    model_file.write_bytes(model_file.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="truncated or replaced"):
        Engine.open(copy).recommend(RecommendRequest(1))
    shutil.rmtree(copy / "model")
    with pytest.raises(ArtifactError, match=r"no re-ranker in .*twostage build"):
        Engine.open(copy).recommend(RecommendRequest(1))
