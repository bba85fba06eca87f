"""The re-ranker: trained on stage-1 candidates of the windows before the test window, with
nothing from a later window leaking into an earlier one; explains itself; its artifact is
checked against the feature registry."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest

from engine.config import EngineConfig, EvaluationConfig, load_config
from engine.data import Dataset
from engine.embeddings import fit, open_dataset, roles
from engine.engine import Engine
from engine.errors import ArtifactError, InvalidRequestError
from engine.features import FeatureContext, assemble
from engine.layout import Layout
from engine.ranking.quality import graded_ndcg, list_metrics
from engine.requests import CandidateRequest, RecommendRequest
from engine.response import request_inputs
from engine.splits import Splits
from lab import training
from lab.training import candidate_rows, train


def test_list_metrics_on_a_hand_made_list() -> None:
    # Relevant 3, 1 and 7; the list finds 3 at rank 2 and 1 at rank 4 (beyond k = 3).
    ndcg, recall, mrr = list_metrics(np.array([5, 3, 9, 1]), np.array([3, 1, 7]), k=3)
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert ndcg == pytest.approx((1 / np.log2(3)) / ideal)
    assert recall == pytest.approx(1 / 3) and mrr == pytest.approx(1 / 2)
    assert list_metrics(np.array([3, 1]), np.array([3, 1]), k=10) == pytest.approx((1.0, 1.0, 1.0))
    assert list_metrics(np.array([4]), np.array([3]), k=10) == (0.0, 0.0, 0.0)
    assert graded_ndcg(np.array([1.0, 3.0]), np.array([3.0, 1.0])) == pytest.approx(
        (1 + 3 / np.log2(3)) / (3 + 1 / np.log2(3))
    )


def test_splits_tile_equal_windows_before_the_test_window(engine: Engine) -> None:
    splits = Splits.of(engine.dataset)
    length = splits.end - splits.test_from
    assert splits.start < splits.train_from < splits.test_from < splits.end == engine.dataset.now
    assert len(splits.windows) == 3 and splits.windows[0][1] == splits.test_from
    for (start, end), (_, older_end) in zip(splits.windows, splits.windows[1:], strict=False):
        assert end - start == length and older_end == start
    by_count = Splits.of(
        engine.dataset, EngineConfig().replace(evaluation=EvaluationConfig(split_by="interactions"))
    )
    times = engine.dataset.interactions.time
    in_test = ((times >= by_count.test_from) & (times < by_count.end)).mean()
    in_first = ((times >= by_count.windows[0][0]) & (times < by_count.windows[0][1])).mean()
    assert in_test == pytest.approx(0.1, abs=0.01) and in_first == pytest.approx(0.1, abs=0.01)


def _with_future_scrambled(dataset: Dataset, cutoff: int) -> Dataset:
    """The same data set, with every interaction at or after `cutoff` moved to other items."""
    log = dataset.interactions
    later = log.time >= cutoff
    rng = np.random.default_rng(0)
    item = np.where(later, rng.integers(0, dataset.catalog.n_items, len(log)), log.item)
    clicked = np.where(later, rng.random(len(log)) < 0.5, log.clicked)
    scrambled = Dataset(dataset.directory, dataset.catalog, dataset.users, dataset.manifest)
    scrambled.__dict__["interactions"] = replace(
        log, item=item, clicked=clicked, purchased=clicked & log.purchased
    )
    return scrambled


def _stage1_and_features(engine: Engine, request: RecommendRequest) -> tuple[np.ndarray, np.ndarray]:
    result = engine.candidates(request.stage1())
    inputs = request_inputs(request, result, engine.now, len(engine.catalog.category_names))
    context = FeatureContext(inputs, engine.catalog, engine.users, engine.store)
    return result.candidates.item_ids, assemble(context, engine.features)


def test_nothing_from_a_later_window_reaches_an_earlier_one(small_dir: Path, small_config: Path) -> None:
    """Time travel: scramble everything from a training window's start on; the embeddings,
    the candidates and the features of that window must not change."""
    config = load_config(small_config)
    layout = Layout(small_dir)
    dataset = open_dataset(layout, config, roles(config)[1])
    start, _ = Splits.of(dataset, config).windows[0]
    scrambled = _with_future_scrambled(dataset, start)
    fitted, refitted = fit(dataset, start), fit(scrambled, start)
    np.testing.assert_array_equal(fitted.item_vectors, refitted.item_vectors)
    np.testing.assert_array_equal(fitted.user_vectors, refitted.user_vectors)
    later = fit(dataset, Splits.of(dataset, config).end)
    assert not np.array_equal(fitted.user_vectors, later.user_vectors), "a later cut-off sees more"
    honest, cheat = (Engine(layout, d, config, as_of=start - 1) for d in (dataset, scrambled))
    users = np.unique(dataset.interactions.user[dataset.interactions.time < start])[:20]
    for user in users.tolist():
        request = RecommendRequest(user, k=10, n_candidates=100, backend="exact")
        (ids_a, features_a), (ids_b, features_b) = (_stage1_and_features(e, request) for e in (honest, cheat))
        np.testing.assert_array_equal(ids_a, ids_b)
        np.testing.assert_array_equal(features_a, features_b)
    trained = json.loads((small_dir / "model" / "manifest.json").read_text())["report"]
    assert [list(w) for w in Splits.of(dataset, config).windows] == trained["windows"]


def first_window(small_dir: Path, small_config: Path) -> tuple[EngineConfig, Engine, int, int]:
    """The configuration, and an engine opened at the first training window's start."""
    config = load_config(small_config)
    layout = Layout(small_dir)
    dataset = open_dataset(layout, config, roles(config)[1])
    start, end = Splits.of(dataset, config).windows[0]
    return config, Engine(layout, dataset, config, as_of=start - 1), start, end


def test_training_lists_are_stage_1_candidates_labelled_by_the_window(
    small_dir: Path, small_config: Path
) -> None:
    config, engine, start, end = first_window(small_dir, small_config)
    dataset = engine.dataset
    rows = candidate_rows(engine, end, config.model.replace(list_negatives=0), 5_000, seed=0)
    assert len(rows) and rows.keep.all() and (rows.end == start).all()
    log = dataset.interactions
    for user in np.unique(rows.user)[:5].tolist():
        mine = rows.user == user
        stage1 = engine.candidates(CandidateRequest(user, n_candidates=config.model.train_candidates))
        np.testing.assert_array_equal(rows.item[mine], stage1.candidates.item_ids)
        liked = (log.user == user) & (log.time >= start) & (log.time < end) & log.clicked
        expected = np.isin(rows.item[mine], log.item[liked])
        np.testing.assert_array_equal(rows.label[mine] > 0, expected)
        assert expected.any(), "lists without a positive are left out"
    sampled = candidate_rows(engine, end, config.model.replace(list_negatives=5), 600, seed=0)
    assert (sampled.label[sampled.keep] > 0).sum() == (sampled.label > 0).sum()
    assert sampled.keep.sum() <= 600 + (sampled.label > 0).sum()


def test_training_lists_requested_side_by_side_are_those_asked_one_by_one(
    small_dir: Path, small_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, engine, _, end = first_window(small_dir, small_config)
    model = config.model.replace(list_negatives=5)
    monkeypatch.setattr(training, "REQUEST_THREADS", 1)
    one_by_one = candidate_rows(engine, end, model, 2_000, seed=3)
    monkeypatch.setattr(training, "REQUEST_THREADS", 3)
    monkeypatch.setattr(training, "BATCH_USERS", 7)  # several batches, the last one cut short
    side_by_side = candidate_rows(engine, end, model, 2_000, seed=3)
    assert len(np.unique(one_by_one.user)) > 2 * 7
    for column in fields(one_by_one):
        np.testing.assert_array_equal(getattr(side_by_side, column.name), getattr(one_by_one, column.name))


def test_an_ensemble_averages_models_of_successive_seeds(small_dir: Path, small_config: Path) -> None:
    config = load_config(small_config)
    single, report = train(Layout(small_dir), config)
    double, report2 = train(Layout(small_dir), config.replace(model=config.model.replace(ensemble=2)))
    assert report2["ensemble"] == 2 and double.trees == 2 * report2["trees_per_model"]
    assert report2["trees_per_model"] == report["trees_per_model"] == single.trees
    engine = Engine.open(small_dir, config)
    matrix = engine.recommend(RecommendRequest(8, k=5)).features
    assert not np.allclose(double.predict(matrix), single.predict(matrix))


def test_windows_with_the_same_vectors_share_one_index(
    small_dir: Path, small_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Content vectors do not change with the cut-off: one index serves every training window,
    and the model is the one three separate builds would give."""
    from engine.ann.base import AnnIndex

    config = load_config(small_config)
    reference, _ = train(Layout(small_dir), config)
    builds = []
    original = AnnIndex.build

    def counted(self, vectors, progress=None):
        builds.append(len(vectors))
        return original(self, vectors) if progress is None else original(self, vectors, progress)

    monkeypatch.setattr(AnnIndex, "build", counted)
    shared, report = train(Layout(small_dir), config)
    assert len(builds) == 1 and len(report["window_rows"]) == 3
    engine = Engine.open(small_dir, config)
    matrix = engine.recommend(RecommendRequest(8, k=5)).features
    np.testing.assert_array_equal(shared.predict(matrix), reference.predict(matrix))


def test_yetirank_permutations_reach_catboost_and_other_losses_ignore_them(
    small_dir: Path, small_config: Path
) -> None:
    from lab.training import loss_function

    config = load_config(small_config)
    assert loss_function(config.model) == "YetiRank:permutations=5"
    assert loss_function(config.model.replace(loss="PairLogit", permutations=3)) == "PairLogit"
    fewer, _ = train(Layout(small_dir), config.replace(model=config.model.replace(permutations=2)))
    default, _ = train(Layout(small_dir), config)
    matrix = Engine.open(small_dir, config).recommend(RecommendRequest(8, k=5)).features
    assert not np.allclose(fewer.predict(matrix), default.predict(matrix)), "the setting changed nothing"


def test_an_unset_ensemble_averages_three_models_on_a_small_log_only() -> None:
    from lab.training import SMALL_LOG_LISTS, ensemble_size

    assert ensemble_size(0, 195) == 3 and ensemble_size(0, SMALL_LOG_LISTS - 1) == 3
    assert ensemble_size(0, SMALL_LOG_LISTS) == 1 and ensemble_size(0, 50_000) == 1
    assert ensemble_size(2, 195) == 2 and ensemble_size(1, 10) == 1, "a configured size is kept"


def test_explanations_add_up_to_the_score(engine: Engine) -> None:
    response = engine.recommend(RecommendRequest(8, k=5))
    first, second = response.items[0].item_id, response.items[1].item_id
    row = int(np.flatnonzero(response.candidates.candidates.item_ids == first)[0])
    shap = engine.reranker.shap(response.features[[row]])[0]
    assert shap.sum() == pytest.approx(response.scores[row], abs=1e-4)
    alone = engine.explain(response, first)
    assert len(alone.contributions) == 8
    assert abs(alone.contributions[0].contribution) >= abs(alone.contributions[-1].contribution)
    # Against the request's mean candidate: every feature together makes score - mean score.
    everything = engine.explain(response, first, top=None)
    assert len(everything.contributions) == len(engine.features)
    assert alone.baseline == pytest.approx(float(response.scores.mean()))
    gap = alone.score - alone.baseline
    assert sum(c.contribution for c in everything.contributions) == pytest.approx(gap, abs=1e-3)
    assert sum(everything.groups.values()) == pytest.approx(gap, abs=1e-3)
    by_group = {
        g: sum(c.contribution for c in everything.contributions if c.group == g) for g in everything.groups
    }
    assert by_group == pytest.approx(everything.groups, abs=1e-6)
    groups = {spec.name: spec.group for spec in engine.features}
    assert all(c.group == groups[c.feature] for c in everything.contributions)
    path_ranks = response.candidates.candidates.path_ranks[row]
    assert alone.found_by == {
        name: int(rank) + 1
        for name, rank in zip(response.candidates.candidates.path_names, path_ranks, strict=True)
        if rank >= 0
    }
    pair = engine.explain(response, first, second)
    assert pair.other_id == second and pair.contributions[0].other_value is not None
    second_row = int(np.flatnonzero(response.candidates.candidates.item_ids == second)[0])
    assert pair.baseline == pytest.approx(float(response.scores[second_row]))
    whole_pair = engine.explain(response, first, second, top=None)
    assert sum(c.contribution for c in whole_pair.contributions) == pytest.approx(
        pair.score - pair.baseline, abs=1e-3
    )
    with pytest.raises(InvalidRequestError, match="not among this response"):
        engine.explain(response, 10**6)
    # As a reader of the list asks: against the mean, and against the item just below.
    in_list, below = engine.explain_in_list(response, first)
    assert repr(in_list) == repr(alone) and repr(below) == repr(pair)  # NaN values are not == NaN
    last = response.items[-1].item_id
    assert engine.explain_in_list(response, last)[1] is None
    outside = next(
        int(i)
        for i in response.candidates.candidates.item_ids
        if i not in {x.item_id for x in response.items}
    )
    assert engine.explain_in_list(response, outside)[1] is None


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
    with pytest.raises(ArtifactError, match=r"trained on other features \(missing \['x_paths_found'\]"):
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


def test_a_request_computes_the_columns_its_model_reads_and_the_rest_when_read(engine: Engine) -> None:
    read = engine.reranker.read_columns
    assert 0 < len(read) < len(engine.features), "a few trees split on part of the features"
    response = engine.recommend(RecommendRequest(8, k=5))
    scored = response.feature_rows.model_input.copy()
    unread = [j for j in range(len(engine.features)) if j not in read]
    assert np.isnan(scored[:, unread]).all() and not np.isnan(scored[:, list(read)]).all()
    # The model never reads the other columns: any values there give the same scores.
    noise = scored.copy()
    noise[:, unread] = np.random.default_rng(0).normal(size=(len(noise), len(unread)))
    assert np.array_equal(engine.reranker.predict(noise), engine.reranker.predict(scored))
    # Read in full, the matrix is what one pass over every feature computes.
    result = response.candidates
    request = RecommendRequest(8, k=5)
    inputs = request_inputs(request, result, engine.now, len(engine.catalog.category_names))
    context = FeatureContext(inputs, engine.catalog, engine.users, engine.store)
    np.testing.assert_array_equal(response.features, assemble(context, engine.features))
    np.testing.assert_array_equal(response.features[:, list(read)], scored[:, list(read)])
