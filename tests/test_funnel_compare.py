"""A request's funnel adds up, and comparing two answers for one user reports real overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from engine.engine import Engine
from engine.funnel import funnel
from engine.requests import RecommendRequest
from lab.compare import compare


def active_user(engine: Engine) -> int:
    return int(engine.users.most_active(1)[0])


def test_funnel_counts_every_step(engine: Engine) -> None:
    response = engine.recommend(RecommendRequest(active_user(engine), k=10, n_candidates=300))
    steps = {step.step: step for step in funnel(response)}
    cands = response.candidates.candidates
    counts = cands.counts
    for p, path in enumerate(cands.path_names):
        assert steps[path].items == counts.found[p]
        # A path returns at least the candidates it found in the final set.
        assert steps[path].items >= int((cands.path_ranks[:, p] >= 0).sum())
        assert steps[path].ms == pytest.approx(response.candidates.timings_ns[path] / 1e6)
    assert (
        sum(counts.found) >= steps["distinct"].items >= steps["not seen"].items >= steps["candidates"].items
    )
    assert steps["candidates"].items == len(cands) == 300
    # The user's history is seen: some of what the paths found was dropped for it.
    assert steps["not seen"].items < steps["distinct"].items
    dropped = {e.item_id for e in response.effects if e.action == "dropped"}
    assert steps["rules"].items == 300 - len(dropped)
    assert steps["top K"].items == len(response.items) == 10
    assert steps["features"].ms == response.timings_ms["features"]
    assert steps["model"].detail == "scored by the model"


def test_funnel_of_a_cold_start_has_no_personal_paths(engine: Engine) -> None:
    unknown = engine.users.n_users + 5
    steps = {step.step: step for step in funnel(engine.recommend(RecommendRequest(unknown, k=5)))}
    assert steps["ann"].items == steps["history"].items == steps["covisit"].items == 0
    assert steps["distinct"].items == steps["not seen"].items > 0


def test_compare_two_backends_for_one_user(engine: Engine) -> None:
    user = active_user(engine)
    base = RecommendRequest(user, k=10, n_candidates=200, measure_recall=True)
    a = engine.recommend(base)
    b = engine.recommend(RecommendRequest(user, k=10, n_candidates=200, backend="exact", measure_recall=True))
    result = compare(a, b)
    assert result.a.label.startswith(engine.config.retrieval.backend) and result.b.label == "exact"
    assert result.b.recall == pytest.approx(1.0) and result.a.recall == a.candidates.recall
    expected = len(np.intersect1d(a.candidates.candidates.item_ids, b.candidates.candidates.item_ids))
    assert result.shared_candidates == expected
    assert result.shared_ann == len(np.intersect1d(a.candidates.ann_ids, b.candidates.ann_ids))
    top_a = [i.item_id for i in a.items]
    top_b = [i.item_id for i in b.items]
    assert result.shared_top == len(set(top_a) & set(top_b))
    assert set(result.only_a) == set(top_a) - set(top_b) and set(result.only_b) == set(top_b) - set(top_a)
    for item, rank_a, rank_b in result.moved:
        assert top_a[rank_a - 1] == item == top_b[rank_b - 1] and rank_a != rank_b


def test_compare_settings_of_one_backend_and_the_same_answer(engine: Engine) -> None:
    user = active_user(engine)
    a = engine.recommend(RecommendRequest(user, k=10, backend="faiss-ivf", search_params={"nprobe": 1}))
    b = engine.recommend(RecommendRequest(user, k=10, backend="faiss-ivf", search_params={"nprobe": 64}))
    result = compare(a, b)
    assert "nprobe=1" in result.a.label and "nprobe=64" in result.b.label
    assert result.shared_ann < result.ann_k  # one probe misses part of the true neighbours
    same = compare(b, b)
    assert same.shared_top == len(b.items) and not same.only_a and not same.only_b and not same.moved
    assert same.shared_candidates == len(b.candidates.candidates)
    other = engine.recommend(RecommendRequest(user + 1, k=10))
    with pytest.raises(ValueError, match="one user"):
        compare(b, other)
