"""The feature store: one registry, one vectorised assembly, no peeking into the future."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine.engine import Engine
from engine.features import FEATURES, FeatureContext, FeatureInputs, assemble, feature_names
from engine.live_store import CLICK
from engine.requests import RecommendRequest
from engine.response import request_inputs


def test_registry_has_uniquely_named_described_features_in_three_groups() -> None:
    names = feature_names()
    assert len(set(names)) == len(names) == len(FEATURES)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"{len(FEATURES)} user, item and cross features" in readme, "the README counts them right"
    groups = Counter(spec.group for spec in FEATURES)
    assert set(groups) == {"user", "item", "cross"} and min(groups.values()) >= 15
    assert all(spec.description and len(spec.description) < 100 for spec in FEATURES)


def _request_matrix(engine: Engine, user: int) -> tuple[FeatureInputs, np.ndarray]:
    request = RecommendRequest(user)
    result = engine.candidates(request.stage1())
    inputs = request_inputs(request, result, engine.now, len(engine.catalog.category_names))
    context = FeatureContext(inputs, engine.catalog, engine.users, engine.store)
    return inputs, assemble(context)


def test_serving_and_training_paths_compute_the_same_features(engine: Engine) -> None:
    """A request's rows (one user, one time: fast paths) equal the same rows computed among
    other users' rows at other times (the per-row path training uses)."""
    inputs, serving = _request_matrix(engine, 5)
    assert inputs.item_vectors is not None  # serving reuses stage 1's gathered vectors
    other = FeatureInputs(
        user=np.r_[inputs.user, 9],
        item=np.r_[inputs.item, 3],
        end=np.r_[inputs.end, inputs.end[0] - 86_400 * 3],
        group=np.r_[inputs.group, 1],
        query_sim=np.r_[inputs.query_sim, np.nan],
        context_category=np.r_[inputs.context_category, -1],
        hour=np.r_[inputs.hour, np.nan],
        path_ranks=np.r_[inputs.path_ranks, np.full((1, inputs.path_ranks.shape[1]), -1)],
    )
    batch = assemble(FeatureContext(other, engine.catalog, engine.users, engine.store))
    # A rank among near-equal similarities follows float rounding, which differs between the
    # two paths' products (learned vectors can sit within 1e-7 of each other): ranks may swap
    # among such ties, by a few places, and nowhere else.
    ranks = np.array([name.endswith("_rank_pct") for name in feature_names()])
    np.testing.assert_allclose(batch[:-1, ~ranks], serving[:, ~ranks], rtol=1e-5, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(batch[:-1, ranks], serving[:, ranks], atol=0.02, equal_nan=True)
    assert serving.dtype == np.float32 and serving.shape == (len(inputs.item), len(FEATURES))


def test_features_see_only_events_before_their_time(engine: Engine) -> None:
    log = engine.dataset.interactions
    row = int(np.flatnonzero(log.clicked)[len(log) // 50])
    item, time = int(log.item[row]), int(log.time[row])
    names = feature_names()
    inputs = FeatureInputs(
        user=np.array([log.user[row]]),
        item=np.array([item]),
        end=np.array([time]),
        group=np.zeros(1, np.int64),
        query_sim=np.full(1, np.nan, np.float32),
        context_category=np.full(1, -1),
    )
    values = assemble(FeatureContext(inputs, engine.catalog, engine.users, engine.store))[0]
    expected = int(((log.item == item) & log.clicked & (log.time < time)).sum())
    assert values[names.index("i_clicks_total")] == expected
    user_clicks = int(((log.user == log.user[row]) & log.clicked & (log.time < time)).sum())
    assert values[names.index("u_clicks_total")] == user_clicks


def test_a_recorded_click_changes_features_and_ranking_at_once(small_dir, small_config) -> None:
    from engine.config import load_config

    engine = Engine.open(small_dir, load_config(small_config))
    user = 12
    before = engine.recommend(RecommendRequest(user, k=10))
    clicked = before.items[0].item_id
    names = feature_names()
    engine.record_event(user, clicked, "click")
    after = engine.recommend(RecommendRequest(user, k=10))
    row_before = before.features[:, names.index("u_session_clicks")]
    row_after = after.features[:, names.index("u_session_clicks")]
    assert (row_after == row_before + 1).all()
    assert clicked not in after.candidates.candidates.item_ids, "a clicked item is not proposed again"
    assert [i.item_id for i in before.items] != [i.item_id for i in after.items]
    assert engine.history(user)[0][-1] == clicked
    assert engine.live.item_counts(np.array([clicked, clicked + 1]))[:, CLICK].tolist() == [1, 0]


def test_another_users_click_counts_for_the_item_at_once(small_dir, small_config) -> None:
    from engine.config import load_config

    engine = Engine.open(small_dir, load_config(small_config))
    request = RecommendRequest(12, k=10)
    before = engine.recommend(request)
    item = int(before.candidates.candidates.item_ids[3])
    engine.record_event(30, item, "click")
    engine.record_event(31, item, "click")
    after = engine.recommend(request)
    column = feature_names().index("i_clicks_1d")
    row_before = list(before.candidates.candidates.item_ids).index(item)
    row_after = list(after.candidates.candidates.item_ids).index(item)
    assert after.features[row_after, column] == before.features[row_before, column] + 2


@pytest.mark.parametrize(
    ("user", "item", "kind", "message"),
    [
        (10**6, 1, "click", "user 1000000 is unknown"),
        (1, 10**7, "click", "not in the catalog"),
        (1, 1, "like", "event kind must be one of"),
        (1, "3", "click", "item id must be a whole number"),
    ],
)
def test_bad_events_are_refused(engine: Engine, user, item, kind, message) -> None:
    with pytest.raises(Exception, match=message) as info:
        engine.record_event(user, item, kind)
    assert type(info.value).__name__ == "InvalidRequestError"
