"""The co-visitation and popular paths and the quotas, on tiny hand-made logs with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.ann.exact import top_k
from engine.config import RetrievalConfig
from engine.data import Catalog, Dataset, Interactions, StringColumn
from engine.errors import InvalidRequestError
from engine.event_store import Cooccurrence
from engine.kernels import raised_top
from engine.retrieval import quotas, trending
from engine.retrieval.paths import (
    _best_first_unique,
    _top,
    covisit_path,
    popular_path,
    trending_path,
)
from engine.retrieval.registry import PATHS
from engine.retrieval.types import Query

HOUR, DAY = 3600, 86_400


def tiny_catalog(categories: list[int]) -> Catalog:
    n = len(categories)
    return Catalog(
        vectors=np.eye(n, 4, dtype=np.float32),
        category=np.array(categories, dtype=np.int32),
        price=np.ones(n, np.float32),
        margin=np.zeros(n, np.float32),
        created_at=np.zeros(n, np.int64),
        inventory=np.ones(n, np.int32),
        popularity=np.ones(n, np.float32),
        promoted=np.zeros(n, bool),
        titles=StringColumn.from_strings([f"item {i}" for i in range(n)]),
        category_names=tuple(f"c{c}" for c in range(max(categories) + 1)),
    )


def query(history: list[int], top: list[int] = (), weights: list[float] = ()) -> Query:
    return Query(
        user_id=0,
        known_user=True,
        vector=None,
        history=np.array(history, dtype=np.int64),
        top_categories=np.array(top, dtype=np.int64),
        category_weights=np.array(weights, dtype=np.float32),
    )


def covisits() -> Cooccurrence:
    """Users 0-2 click item 0 then item 1 an hour later; users 0-1 then item 2; users 3-4 click
    item 0 and, a month later, item 4 (too far apart to count as a co-visit)."""
    start = 1_700_000_000
    rows = [(u, 0, start) for u in range(5)]
    rows += [(u, 1, start + HOUR) for u in range(3)]
    rows += [(u, 2, start + 2 * HOUR) for u in range(2)]
    rows += [(u, 4, start + 30 * DAY) for u in (3, 4)]
    user, item, time = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    return Cooccurrence.from_clicks(user, item, time, 6, before=start + 365 * DAY, max_gap=7 * DAY)


def test_covisit_path_sums_counts_within_the_window_and_leaves_out_the_seeds() -> None:
    cooc = covisits()
    found = covisit_path(query([0]), cooc, recent=10, size=5)
    assert found.item_ids.tolist() == [1, 2] and found.scores.tolist() == [3.0, 2.0]
    # Item 1 was co-visited with 0 (3 users) and 2 (2 users): from history [0, 1], item 2
    # scores 2 + 2 and the seeds themselves are left out.
    both = covisit_path(query([0, 1]), cooc, recent=10, size=5)
    assert both.item_ids.tolist() == [2] and both.scores.tolist() == [4.0]
    assert len(covisit_path(query([]), cooc, recent=10, size=5)) == 0
    unlimited = Cooccurrence.from_clicks(*_covisit_log(), 6, before=1_800_000_000)
    assert 4 in covisit_path(query([0]), unlimited, recent=10, size=5).item_ids.tolist()


def test_each_item_keeps_its_strongest_covisits_when_capped() -> None:
    start = 1_700_000_000
    log = covisits()
    # Item 0 was co-visited with 1 (3 users) and 2 (2 users); with one neighbour it keeps 1.
    rows = [(u, 0, start) for u in range(5)] + [(u, 1, start + HOUR) for u in range(3)]
    rows += [(u, 2, start + 2 * HOUR) for u in range(2)]
    user, item, time = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    capped = Cooccurrence.from_clicks(user, item, time, 6, before=start + DAY, max_gap=DAY, top=1)
    assert capped.neighbours(np.array([0]))[0].tolist() == [1]
    assert log.neighbours(np.array([0]))[0].tolist() == [1, 2]
    # Every item keeps exactly its best pair, and the keys stay sorted for the lookups.
    assert (np.bincount(capped.keys // 6, minlength=3)[:3] == 1).all()
    assert (np.diff(capped.keys) > 0).all()
    assert capped.lookup(np.array([0, 0]), np.array([1, 2])).tolist() == [3.0, 0.0]


def _covisit_log() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start = 1_700_000_000
    user = np.array([3, 3, 4, 4])
    item = np.array([0, 4, 0, 4])
    time = np.array([start, start + 30 * DAY, start, start + 30 * DAY])
    return user, item, time


def test_popular_path_raises_the_users_categories() -> None:
    catalog = tiny_catalog([0, 0, 1, 1, 2, 2])
    lists = trending.ranked_lists(np.array([10, 8, 6, 5, 4, 1]), catalog)
    cold = popular_path(query([]), lists, catalog, size=6, quota=3)
    assert cold.item_ids.tolist() == [0, 1, 2, 3, 4, 5] and cold.quota == 3
    # Category 2 holds the user's whole history: its counts double (4 -> 8 ties item 1).
    warm = popular_path(query([5], top=[2], weights=[1.0]), lists, catalog, size=6, quota=3)
    assert warm.item_ids.tolist() == [0, 1, 4, 2, 3, 5]
    assert warm.scores.tolist() == [10.0, 8.0, 8.0, 6.0, 5.0, 2.0]


def test_trending_path_weighs_each_top_category_and_keeps_its_order() -> None:
    catalog = tiny_catalog([0, 0, 1, 1, 2, 2])
    lists = trending.ranked_lists(np.array([10, 8, 6, 5, 4, 1]), catalog)
    # Category 1 (items 2, 3: 6, 5) weighs 1.0, category 2 (items 4, 5: 4, 1) weighs 2.0.
    found = trending_path(query([5], top=[1, 2], weights=[1.0, 2.0]), lists, size=3)
    assert found.item_ids.tolist() == [4, 2, 3] and found.scores.tolist() == [8.0, 6.0, 5.0]
    # Weighing category 2 by 1.5, item 4 ties item 2 at 6: the earlier category's item first.
    tied = trending_path(query([5], top=[1, 2], weights=[1.0, 1.5]), lists, size=4)
    assert tied.item_ids.tolist() == [2, 4, 3, 5]


def test_popular_counts_only_likes_before_now_and_inside_the_window(tmp_path: Path) -> None:
    catalog = tiny_catalog([0, 0, 1])
    now = 1_700_000_000
    log = Interactions(
        user=np.array([0, 1, 2, 0, 1, 0]),
        item=np.array([0, 0, 0, 1, 1, 2]),
        time=np.array([now - 40 * DAY, now - 40 * DAY, now - 40 * DAY, now - DAY, now - DAY, now + DAY]),
        clicked=np.array([True, True, True, True, True, True]),
        purchased=np.zeros(6, bool),
    )
    dataset = Dataset(tmp_path, catalog, None, {"now": now})  # type: ignore[arg-type]
    dataset.__dict__["interactions"] = log
    assert trending.popular(dataset, now).global_items.tolist() == [0, 1]  # item 2: the future
    assert trending.popular(dataset, now, window_days=30).global_items.tolist() == [1]


def test_quotas_share_the_set_and_give_the_rest_to_the_ann_or_popular_path() -> None:
    config = RetrievalConfig()
    every = frozenset(PATHS)
    warm = quotas.path_sizes(config, 100, every, has_vector=True, has_history=True)
    assert warm == {"ann": 31, "history": 20, "covisit": 20, "popular": 20, "trending": 5, "promoted": 4}
    cold = quotas.path_sizes(config, 100, every, has_vector=False, has_history=False)
    assert cold == {"ann": 0, "history": 0, "covisit": 0, "popular": 91, "trending": 5, "promoted": 4}
    alone = quotas.path_sizes(config, 100, frozenset({"history"}), has_vector=True, has_history=True)
    assert alone["history"] == 100 and sum(alone.values()) == 100


@pytest.mark.parametrize("paths", [(), ("ann", "bm25"), "ann"])
def test_unknown_or_empty_path_lists_are_refused(paths) -> None:
    with pytest.raises(InvalidRequestError, match="path"):
        quotas.check_paths(paths)


def test_a_paths_top_matches_exact_search_order_with_ties() -> None:
    """The paths' one-row top-k chooses and orders as exact search's top_k, ties included."""
    rng = np.random.default_rng(0)
    for trial in range(500):
        n, size = int(rng.integers(1, 200)), int(rng.integers(1, 250))
        scores = rng.integers(0, 8, n) if trial % 2 else rng.random(n)
        scores = scores.astype(np.float32)
        expected = top_k(scores[None, :], min(size, n))[0][0]
        assert _top(scores, size).tolist() == expected.tolist()
    assert _top(np.zeros(0, np.float32), 5).tolist() == []


def test_best_first_unique_keeps_each_ids_best_entry_best_first() -> None:
    rng = np.random.default_rng(1)
    for trial in range(300):
        n = int(rng.integers(0, 120))
        ids = rng.integers(-1, 40, n)
        scores = (rng.integers(0, 5, n) if trial % 2 else rng.random(n)).astype(np.float32)
        exclude = rng.integers(0, 40, int(rng.integers(0, 4)))
        # The rule, one entry at a time: best score first, ties by the earlier entry.
        expected: dict[int, float] = {}
        for _, _, item, score in sorted(
            (-s, p, int(i), float(s)) for p, (i, s) in enumerate(zip(ids, scores, strict=True))
        ):
            if item >= 0 and item not in exclude and item not in expected:
                expected[item] = score
        got_ids, got_scores = _best_first_unique(ids, scores, exclude)
        assert got_ids.tolist() == list(expected) and got_scores.tolist() == list(expected.values())


def test_popular_raised_top_is_a_stable_sort_of_the_raised_scores() -> None:
    rng = np.random.default_rng(2)
    for trial in range(400):
        n_categories = int(rng.integers(1, 8))
        category = rng.integers(0, n_categories, 300).astype(np.int32)
        ids = rng.choice(300, int(rng.integers(1, 150)), replace=False)
        scores = (rng.integers(1, 20, len(ids)) if trial % 2 else rng.random(len(ids))).astype(np.float32)
        scores = np.sort(scores)[::-1].copy()  # the global list is best first
        top = rng.choice(n_categories, int(rng.integers(0, min(4, n_categories) + 1)), replace=False)
        weights = rng.random(len(top)).astype(np.float32)
        size = int(rng.integers(1, 200))
        share = np.zeros(n_categories, np.float32)
        share[top] = weights
        raised = scores * (1.0 + share[category[ids]])
        expected = np.argsort(-raised, kind="stable")[:size]
        order, got = raised_top(ids, scores, category, top.astype(np.int64), weights, size)
        assert order.tolist() == expected.tolist() and got.tolist() == raised[expected].tolist()
