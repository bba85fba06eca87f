"""The merge: quotas interleave paths, duplicates collapse, provenance survives."""

from __future__ import annotations

import numpy as np

from engine.retrieval.merge import merge
from engine.retrieval.types import PathResult
from engine.runs import best_first, contains


def path(name: str, ids: list[int], quota: int) -> PathResult:
    scores = np.linspace(1.0, 0.5, num=len(ids), dtype=np.float32) if ids else np.zeros(0, np.float32)
    return PathResult(name, np.array(ids, dtype=np.int64), scores, quota)


def test_quotas_interleave_then_back_fill() -> None:
    a = path("a", [1, 2, 3, 4, 5, 6], quota=2)
    b = path("b", [10, 11], quota=2)
    merged = merge([a, b], size=5)
    # Keys: a -> 0, .5, 1, 1.5 ...; b -> 0, .5. In-quota entries first, then a back-fills.
    assert merged.item_ids.tolist() == [1, 10, 2, 11, 3]
    assert merged.path_counts() == {"a": 3, "b": 2}


def test_duplicates_collapse_and_keep_every_paths_rank_and_score() -> None:
    a = path("a", [7, 8, 9], quota=3)
    b = path("b", [9, 7], quota=2)
    merged = merge([a, b], size=10)
    assert sorted(merged.item_ids.tolist()) == [7, 8, 9]
    row = merged.item_ids.tolist().index(9)
    assert merged.path_ranks[row].tolist() == [2, 0]
    np.testing.assert_allclose(merged.path_scores[row], [a.scores[2], b.scores[0]])
    assert merged.found_by(row) == ["a", "b"]
    only_a = merged.item_ids.tolist().index(8)
    assert merged.path_ranks[only_a].tolist() == [1, -1] and np.isnan(merged.path_scores[only_a, 1])


def test_excluded_items_never_appear() -> None:
    merged = merge([path("a", [1, 2, 3], 3), path("b", [3, 4], 2)], size=10, exclude=np.array([3]))
    assert sorted(merged.item_ids.tolist()) == [1, 2, 4]


def test_empty_paths_and_size_limit() -> None:
    merged = merge([path("a", [], 5), path("b", [], 5)], size=5)
    assert len(merged) == 0 and merged.path_scores.shape == (0, 2)
    assert len(merge([path("a", list(range(100)), 50)], size=7)) == 7


def test_counts_follow_the_funnel() -> None:
    a = path("a", [1, 2, 3, 4, 5], quota=3)
    b = path("b", [3, 6, 7, 1], quota=2)
    merged = merge([a, b], size=4, exclude=np.array([2, 7, 99]))
    # 9 returned, 7 distinct (1..7), 5 after dropping the seen 2 and 7, 4 kept.
    assert merged.counts.found == (5, 4)
    assert (merged.counts.distinct, merged.counts.unseen, merged.counts.kept) == (7, 5, 4)
    assert merged.item_ids.tolist() == [1, 3, 6, 4]
    # 1 and 3 were found by both; 4 only by a, 6 only by b.
    assert merged.only_counts() == {"a": 1, "b": 1}
    assert merge([a, b], size=10).counts.distinct == 7


def reference_merge(results: list[PathResult], size: int, exclude: set[int]) -> list[int]:
    """The merge's rule, one entry at a time: by rank / quota, then path order."""
    entries = sorted(
        (rank / max(r.quota, 1), p, int(item))
        for p, r in enumerate(results)
        for rank, item in enumerate(r.item_ids)
    )
    chosen: list[int] = []
    for _, _, item in entries:
        if item not in exclude and item not in chosen:
            chosen.append(item)
    return chosen[:size]


def test_random_paths_match_the_rule_entry_by_entry() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        results = [
            path(name, rng.integers(0, 60, size=rng.integers(0, 40)).tolist(), int(rng.integers(0, 20)))
            for name in "abcd"
        ]
        # A path lists an item once; the merge de-duplicates across paths only.
        results = [path(r.name, list(dict.fromkeys(r.item_ids.tolist())), r.quota) for r in results]
        exclude = rng.integers(0, 60, size=rng.integers(0, 8))
        size = int(rng.integers(1, 80))
        merged = merge(results, size, exclude=exclude)
        assert merged.item_ids.tolist() == reference_merge(results, size, set(exclude.tolist()))
        for row, item in enumerate(merged.item_ids.tolist()):
            for p, r in enumerate(results):
                where = np.flatnonzero(r.item_ids == item)
                assert merged.path_ranks[row, p] == (where[0] if len(where) else -1)


def test_contains_agrees_with_isin() -> None:
    rng = np.random.default_rng(3)
    for n_pool in (0, 1, 5, 50):
        pool = rng.integers(0, 100, size=n_pool)
        values = rng.integers(-5, 105, size=300)
        assert (contains(values, pool) == np.isin(values, pool)).all()


def test_best_first_is_a_stable_descending_argsort() -> None:
    rng = np.random.default_rng(5)
    for trial in range(600):
        n = int(rng.integers(0, 200))
        scores = rng.random(n)
        if trial % 3 == 0:
            scores = np.round(scores, 1)  # ties
        if trial % 5 == 0:
            scores[rng.random(n) < 0.2] = np.nan
        if trial % 7 == 0:
            scores[rng.random(n) < 0.3] = -0.0  # equal to 0.0
        scores = scores.astype(np.float32 if trial % 2 else np.float64)
        assert best_first(scores).tolist() == np.argsort(-scores, kind="stable").tolist()
