"""Both stages through Engine.recommend: the response, its timings, degradation, safety."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from engine.config import BudgetConfig, load_config
from engine.engine import Engine
from engine.errors import InvalidRequestError
from engine.ranking.guard import ModelGuard
from engine.requests import Context, RecommendRequest


def test_response_has_items_ranks_provenance_and_timings(engine: Engine) -> None:
    response = engine.recommend(RecommendRequest(3, k=10, n_candidates=200))
    items = response.items
    assert len(items) == 10 and len(response.candidates.candidates) == 200
    assert [i.rank_after for i in items] == list(range(1, 11))
    assert all(i.rank_change == i.rank_before - i.rank_after and i.found_by for i in items)
    candidates = response.candidates.candidates
    for item in items:  # rank_before is the item's row in the candidate set, found_by its paths
        row = item.rank_before - 1
        assert candidates.item_ids[row] == item.item_id and list(item.found_by) == candidates.found_by(row)
    assert all(engine.catalog.inventory[i.item_id] > 0 for i in items), "out-of-stock items are dropped"
    assert response.scores.shape == (200,) and response.features.shape[0] == 200
    assert set(response.timings_ms) == {"retrieval", "features", "model", "rules", "total"}
    assert response.timings_ms["total"] >= sum(
        response.timings_ms[s] for s in ("retrieval", "features", "model")
    )
    assert [v.stage for v in response.verdicts] == ["retrieval", "features", "model", "buffer", "total"]
    assert response.timings_ms["total"] < 1000, "a 200-candidate request should take far under 1 s"
    assert response.degraded == () and response.user_id == 3
    moved = [i for i in items if i.rank_change != 0]
    assert moved, "re-ranking moves items"


def test_rules_effects_are_reported_on_items(engine: Engine) -> None:
    response = engine.recommend(RecommendRequest(4, k=10))
    dropped = {e.item_id for e in response.effects if e.rule == "out_of_stock"}
    assert dropped and dropped <= set(response.candidates.candidates.item_ids.tolist())
    assert not dropped & {i.item_id for i in response.items}


def test_cold_start_and_empty_history_still_recommend(engine: Engine) -> None:
    cold = engine.recommend(RecommendRequest(10**9, k=5))
    assert len(cold.items) == 5 and cold.candidates.cold_start and "cold start" in cold.notes[0]
    empty = np.flatnonzero(np.diff(engine.users.history_offsets) == 0)
    assert len(empty), "the small data set has known users without a history (8 of 400)"
    fresh = engine.recommend(RecommendRequest(int(empty[0]), k=5))
    assert len(fresh.items) == 5 and "no history" in fresh.notes[0]


def test_context_category_is_a_feature(engine: Engine) -> None:
    plain = engine.recommend(RecommendRequest(6, k=10))
    books = engine.recommend(RecommendRequest(6, k=10, context=Context(category=2, hour=20.0)))
    names = engine.reranker.feature_names
    match = books.features[:, names.index("x_session_category_match")]
    items = books.candidates.candidates.item_ids
    assert (match == (engine.catalog.category[items] == 2)).all()
    assert not np.array_equal(plain.features, books.features)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be a whole number from 1 to 1000"),
        ({"k": 1001}, "k must be a whole number from 1 to 1000"),
        ({"n_candidates": 0}, "number of candidates must be"),
        ({"n_candidates": 10**7}, "number of candidates must be"),
        ({"context": Context(category=99)}, "context category must be a category code"),
        ({"context": Context(hour=25)}, "context hour must be a number from 0 to 24"),
        ({"query": [1.0, 2.0]}, "has 2 dimensions"),
    ],
)
def test_bad_requests(engine: Engine, kwargs, message) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        engine.recommend(RecommendRequest(1, **kwargs))


def test_model_failure_degrades_to_the_stage1_order(small_dir: Path, small_config: Path, monkeypatch) -> None:
    engine = Engine.open(small_dir, load_config(small_config))

    def broken(matrix):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(engine.reranker, "predict", broken)
    response = engine.recommend(RecommendRequest(7, k=10))
    assert response.degraded and "model failed (RuntimeError: model exploded)" in response.degraded[0]
    stage1 = [i for i in response.candidates.candidates.item_ids.tolist() if engine.catalog.inventory[i] > 0]
    assert [i.rank_before for i in response.items] == sorted(i.rank_before for i in response.items)
    # The stage-1 order, in stock, less what the category cap left out: an in-stock item
    # passed over before the last one shown had its category full already
    chosen = [i.item_id for i in response.items]
    cap, shown_per_category = engine.config.rules.category_cap, Counter()
    promoted = set(np.flatnonzero(engine.catalog.promoted).tolist())
    for item in stage1[: stage1.index(chosen[-1]) + 1]:
        category = int(engine.catalog.category[item])
        if item in chosen:
            shown_per_category[category] += 1
        elif item not in promoted:  # a promoted item's score is boosted: it may move, not vanish
            assert shown_per_category[category] >= cap, f"item {item} left out with its category not full"
    with pytest.raises(InvalidRequestError, match="no model scores to explain"):
        engine.explain(response, response.items[0].item_id)


def test_budget_policy_skips_a_model_that_would_be_too_slow(small_dir: Path, small_config: Path) -> None:
    config = load_config(small_config)
    tight = config.replace(budget=BudgetConfig(ann_ms=10, features_ms=20, model_ms=0.000001, buffer_ms=40))
    engine = Engine.open(small_dir, tight)
    first = engine.recommend(RecommendRequest(7, k=10))  # no estimate yet: the model runs
    second = engine.recommend(RecommendRequest(7, k=10))
    assert first.degraded == ()
    assert second.degraded and "model skipped" in second.degraded[0] and "model budget" in second.degraded[0]
    lenient = Engine.open(small_dir, tight.replace(model=tight.model.replace(skip_over_budget=False)))
    lenient.recommend(RecommendRequest(7))
    assert lenient.recommend(RecommendRequest(7)).degraded == ()


def test_a_skipped_model_is_tried_again_after_the_cooldown_and_recovers(
    small_dir: Path, small_config: Path
) -> None:
    """One slow prediction (a pause under load) must not switch the model off for good."""
    engine = Engine.open(small_dir, load_config(small_config))
    now = [0]
    engine.model_guard.clock_ns = lambda: now[0]
    engine.model_guard.record(100, 200_000_000)  # 2 ms per candidate: 1 s expected for 500
    skipped = engine.recommend(RecommendRequest(7, k=10, n_candidates=500))
    assert skipped.degraded and "tried again in 5.0 s" in skipped.degraded[0]
    now[0] += 4_000_000_000
    assert engine.recommend(RecommendRequest(7, k=10, n_candidates=500)).degraded, "still cooling down"
    now[0] += 2_000_000_000
    probe = engine.recommend(RecommendRequest(7, k=10, n_candidates=500))
    assert probe.degraded == (), "after the cooldown the model runs again"
    assert engine.model_guard.expected_ms(500) < engine.config.budget.model_ms, (
        "its real time replaced the estimate"
    )
    assert engine.recommend(RecommendRequest(7, k=10, n_candidates=500)).degraded == ()


def test_guard_opens_on_a_slow_probe_and_averages_when_closed() -> None:
    now = [0]
    guard = ModelGuard(budget_ms=30, cooldown_s=5, clock_ns=lambda: now[0])
    assert guard.skip_reason(500) is None, "no estimate yet: run the model"
    guard.record(500, 10_000_000)  # 10 ms
    guard.record(500, 20_000_000)  # moving average: 0.8 x 10 + 0.2 x 20 = 12 ms
    assert guard.expected_ms(500) == pytest.approx(12.0)
    guard.record(500, 500_000_000)  # a pause: 0.8 x 12 + 0.2 x 500 = 109.6 ms
    assert "109.60 ms expected" in guard.skip_reason(500)
    now[0] = 5_000_000_000
    assert guard.skip_reason(500) is None  # half-open
    guard.record(500, 90_000_000)  # the probe is slow too: the breaker opens again
    assert guard.expected_ms(500) == pytest.approx(90.0) and guard.skip_reason(500) is not None


def test_a_tiny_request_does_not_switch_the_model_off_for_larger_ones() -> None:
    guard = ModelGuard(budget_ms=30, cooldown_s=5, clock_ns=lambda: 0)
    guard.record(500, 2_000_000)  # 2 ms for 500 rows
    for _ in range(5):
        guard.record(1, 1_000_000)  # 1 ms for one row: the fixed overhead of a call, under load
    assert guard.expected_ms(150) < 2.0 and guard.skip_reason(150) is None
    assert guard.expected_ms(1) == guard.expected_ms(100), "below 100 rows a call costs its overhead"


def test_concurrent_recommendations_match_sequential_ones(engine: Engine) -> None:
    requests = [RecommendRequest(u, k=10, n_candidates=150) for u in range(0, 400, 9)]
    sequential = [[i.item_id for i in engine.recommend(r).items] for r in requests]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda r: [i.item_id for i in engine.recommend(r).items], requests))
    assert concurrent == sequential


def test_recall_is_measured_only_when_asked_and_against_exact_search(engine: Engine) -> None:
    plain = engine.recommend(RecommendRequest(3, k=5))
    weak = {"nprobe": 2}  # so that some true neighbours are missed
    measured = engine.recommend(RecommendRequest(3, k=5, measure_recall=True, search_params=weak))
    assert plain.candidates.recall is None and measured.candidates.ann_k == 500
    # The same figure recomputed by hand: the share of the true 500 nearest items found.
    result = measured.candidates
    truth = engine.index("exact").search(result.query_vector, 500)
    kth = truth.scores[0, -1]
    found = engine.catalog.vectors[result.ann_ids] @ result.query_vector >= kth - 1e-5
    assert measured.candidates.recall == pytest.approx(found.sum() / 500)
    assert 0.0 < measured.candidates.recall < 1.0
    assert set(measured.timings_ms) == set(plain.timings_ms), "no timer of its own inside the response"


def test_events_recorded_while_recommending_are_all_kept_and_seen(
    small_dir: Path, small_config: Path
) -> None:
    engine = Engine.open(small_dir, load_config(small_config))  # its own: it records events
    user = int(engine.users.most_active(1)[0])
    items = [
        int(i) for i in engine.recommend(RecommendRequest(user, k=40)).candidates.candidates.item_ids[:40]
    ]

    def click(item: int) -> None:
        engine.record_event(user, item, "click")

    def ask(_: int) -> int:
        return len(engine.recommend(RecommendRequest(user, k=10)).items)

    with ThreadPoolExecutor(max_workers=4) as pool:
        clicks = pool.map(click, items)
        answers = pool.map(ask, range(20))
        list(clicks)
        assert all(n == 10 for n in answers)
    assert len(engine.live) == len(items)
    after = engine.recommend(RecommendRequest(user, k=10))
    assert not set(items) & set(after.candidates.candidates.item_ids.tolist()), "clicked items are seen"
    assert set(items) <= set(engine.history(user)[0][-len(items) :].tolist())
