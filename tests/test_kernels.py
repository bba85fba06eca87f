"""The compiled request-path loops (engine.kernels, and the few beside their callers) against
the plain numpy rule they replace; and the rule that keeps numba's cache honest."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from engine.event_store import Cooccurrence
from engine.events import NEVER
from engine.features.loops import rank_key, rank_pct_one_group, summarise_history
from engine.kernels import gather_rows, gather_transposed, lower_bound, merge_runs
from engine.retrieval.resolve import _strongest_categories


def test_one_group_ranks_match_the_sorted_search_rule() -> None:
    rng = np.random.default_rng(1)
    for trial in range(200):
        n = int(rng.integers(0, 300))
        values = rng.normal(size=n).astype(np.float32)
        if trial % 3 == 0:
            values = np.round(values, 1)  # many ties
        values[rng.random(n) < 0.1] = np.nan
        key = rank_key(values)
        # Rows strictly better = where the row's key first appears among the sorted keys.
        expected = (np.searchsorted(np.sort(key), key) / max(n - 1, 1)).astype(np.float32)
        np.testing.assert_array_equal(rank_pct_one_group(values), expected)


def test_one_group_ranks_share_ties_and_put_missing_last() -> None:
    pct = rank_pct_one_group(np.array([0.5, np.nan, 0.9, 0.5, 0.1], dtype=np.float32))
    assert pct.tolist() == [0.25, 1.0, 0.0, 0.25, 0.75]


def test_pair_rows_match_pair_lookups() -> None:
    rng = np.random.default_rng(2)
    n_items = 40
    clicks = 3000
    user = np.sort(rng.integers(0, 50, clicks))
    cooc = Cooccurrence.from_clicks(
        user, rng.integers(0, n_items, clicks), np.arange(clicks), n_items, clicks
    )
    assert len(cooc.keys) > 100
    for _ in range(20):
        seeds = rng.integers(-1, n_items, int(rng.integers(0, 12)))
        items = rng.integers(0, n_items, int(rng.integers(0, 60)))
        expected = cooc.lookup(
            np.repeat(seeds[:, None], len(items), axis=1), np.broadcast_to(items, (len(seeds), len(items)))
        )
        np.testing.assert_array_equal(cooc.rows(seeds, items), expected)


def test_neighbours_sum_each_seeds_row_by_item() -> None:
    rng = np.random.default_rng(3)
    n_items, clicks = 30, 2000
    user = np.sort(rng.integers(0, 40, clicks))
    cooc = Cooccurrence.from_clicks(
        user, rng.integers(0, n_items, clicks), np.arange(clicks), n_items, clicks
    )
    everything = np.arange(n_items)
    for _ in range(50):
        seeds = rng.integers(-1, n_items, int(rng.integers(0, 8)))
        # The rule plainly: every item's counts with each seed, added up; items never co-clicked left out.
        summed = sum((cooc.lookup(np.full(n_items, s), everything) for s in seeds), np.zeros(n_items))
        items, counts = cooc.neighbours(seeds)
        assert items.tolist() == np.flatnonzero(summed).tolist()
        assert counts.tolist() == summed[summed > 0].tolist()


def test_history_summary_counts_categories_last_clicks_and_mean_price() -> None:
    rng = np.random.default_rng(4)
    n_items, n_categories = 50, 6
    category = rng.integers(0, n_categories, n_items).astype(np.int32)
    log_price = rng.normal(size=n_items).astype(np.float32)
    items = rng.integers(-1, n_items, (20, 12))
    items[3] = -1  # a user without history
    times = np.sort(rng.integers(-1000, 1000, (20, 12)), axis=1)  # times before 1970 too
    counts, last, mean_price, entropy = summarise_history(items, times, category, log_price, n_categories)
    for user in range(len(items)):
        clicked = [(int(i), int(t)) for i, t in zip(items[user], times[user], strict=True) if i >= 0]
        for c in range(n_categories):
            in_c = [t for i, t in clicked if category[i] == c]
            assert counts[user, c] == len(in_c) and last[user, c] == max(in_c, default=NEVER)
        prices = [float(log_price[i]) for i, _ in clicked]
        if prices:
            assert mean_price[user] == pytest.approx(sum(prices) / len(prices), rel=1e-6)
            shares = [counts[user, c] / len(clicked) for c in range(n_categories) if counts[user, c]]
            assert entropy[user] == pytest.approx(-sum(p * math.log2(p) for p in shares), rel=1e-6)
        else:
            assert np.isnan(mean_price[user]) and np.isnan(entropy[user])


def test_strongest_categories_weigh_clicks_by_age() -> None:
    rng = np.random.default_rng(7)
    day, now = 86_400, 10_000_000
    for trial in range(200):
        n_categories = int(rng.integers(1, 12))
        category = rng.integers(0, n_categories, 100).astype(np.int32)
        items = rng.integers(0, 100, int(rng.integers(1, 30)))
        ages = rng.integers(0, 90, len(items)) if trial % 2 else np.full(len(items), 3)  # equal ages tie
        times = now - ages * day
        n = int(rng.integers(1, 5))
        top, shares = _strongest_categories(items, times, category, now, n_categories, 30.0, n)
        # The rule plainly: each click weighs 2^(-age / 30 days); heaviest first, ties by id.
        weight = [0.0] * n_categories
        for item, age in zip(items.tolist(), ages.tolist(), strict=True):
            weight[int(category[item])] += 2.0 ** (-age / 30.0)
        expected = sorted((c for c in range(n_categories) if weight[c] > 0), key=lambda c: (-weight[c], c))[
            :n
        ]
        assert top.tolist() == expected
        np.testing.assert_allclose(shares, [weight[c] / sum(weight) for c in expected], rtol=1e-6)


def test_a_kernel_compiles_where_no_cache_directory_is_writable(monkeypatch: pytest.MonkeyPatch) -> None:
    """numba refuses `cache=True` when it can write nowhere; the loop still compiles."""
    import numba.core.caching

    from engine.kernels import kernel

    monkeypatch.setattr(numba.core.caching.CacheImpl, "_locator_classes", [])

    def add_one(values: np.ndarray) -> np.ndarray:
        return values + 1

    assert kernel(add_one)(np.arange(3)).tolist() == [1, 2, 3]


def test_history_similarity_stats_match_the_rule_written_plainly() -> None:
    from engine.features.loops import history_similarity_stats

    rng = np.random.default_rng(9)
    vectors = rng.normal(size=(40, 6)).astype(np.float32) * rng.uniform(0.1, 3, (40, 1)).astype(np.float32)
    vectors[7] = 0.0  # an item with no vector
    norms = np.linalg.norm(vectors, axis=1)
    inverse = (1 / np.where(norms > 1e-12, norms, 1)).astype(np.float32)
    recent = rng.integers(-1, 40, (5, 10))
    recent[2] = -1  # a user without clicks
    recent[3, -1] = -1  # one whose last slot is empty
    row_user = rng.integers(0, 5, 60)
    items = rng.integers(0, 40, 60)
    best, mean, last = history_similarity_stats(
        vectors[items], vectors, recent, row_user, inverse, inverse[items]
    )
    for i in range(60):
        clicks = [c for c in recent[row_user[i]] if c >= 0]
        cosines = [float(vectors[items[i]] @ vectors[c]) * inverse[c] * inverse[items[i]] for c in clicks]
        if not cosines:
            assert np.isnan(best[i]) and np.isnan(mean[i]) and np.isnan(last[i])
            continue
        assert best[i] == pytest.approx(max(cosines), abs=1e-5)
        assert mean[i] == pytest.approx(sum(cosines) / len(cosines), abs=1e-5)
        slot = recent[row_user[i], -1]
        assert np.isnan(last[i]) if slot < 0 else last[i] == pytest.approx(cosines[-1], abs=1e-5)


def test_merging_ordered_runs_is_a_stable_descending_sort() -> None:
    rng = np.random.default_rng(11)
    for trial in range(300):
        n, n_runs = int(rng.integers(0, 80)), int(rng.integers(1, 5))
        key = np.round(rng.random(n), 1 if trial % 2 else 3)  # ties, across and within runs
        run = rng.integers(0, n_runs, n)
        for r in range(n_runs):  # each run's keys descending in position order, as callers hold
            key[run == r] = np.sort(key[run == r])[::-1]
        n_out = int(rng.integers(0, n + 1))
        expected = np.lexsort((np.arange(n), -key))[:n_out]
        np.testing.assert_array_equal(merge_runs(key, run, n_runs, n_out), expected)


def test_lower_bound_is_searchsorted_left() -> None:
    rng = np.random.default_rng(12)
    values = np.sort(rng.integers(0, 50, 200))
    for value in range(-2, 53):
        assert lower_bound(values, value) == np.searchsorted(values, value)
    assert lower_bound(values[:0], 7) == 0


def test_gathered_rows_are_numpys_fancy_index_and_its_transpose() -> None:
    rng = np.random.default_rng(13)
    table = rng.normal(size=(50, 7)).astype(np.float32)
    rows = rng.integers(0, 50, 30)
    np.testing.assert_array_equal(gather_rows(table, rows), table[rows])
    transposed = gather_transposed(table, rows)
    np.testing.assert_array_equal(transposed, table[rows].T)
    assert transposed.flags.c_contiguous


def _kernel_names(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(getattr(d, "id", None) == "kernel" for d in node.decorator_list)
    }


def test_a_compiled_loop_calls_only_loops_of_its_own_file() -> None:
    """numba keys its cache on the file of the loop it compiles: a loop calling a loop of
    another file would keep running that loop's old code after it changed."""
    root = Path(__file__).resolve().parents[1] / "engine"
    modules = {path: ast.parse(path.read_text()) for path in root.rglob("*.py")}
    everywhere = set().union(*(_kernel_names(tree) for tree in modules.values()))
    assert {"merge_runs", "lower_bound", "merge_paths", "summarise_history"} <= everywhere
    crossing = []
    for path, tree in modules.items():
        own = _kernel_names(tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in own:
                called = {
                    c.func.id
                    for c in ast.walk(node)
                    if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                }
                crossing += [f"{path.name}:{node.name} -> {name}" for name in called & (everywhere - own)]
    assert not crossing, crossing
