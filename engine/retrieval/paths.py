"""The retrieval paths. Each returns at most `size` items, best first, in one or two
vectorised library calls; none loops over items in Python."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.ann.base import AnnIndex
from engine.data import Catalog
from engine.event_store import Cooccurrence
from engine.kernels import best_entry_per_id, raised_top
from engine.retrieval.neighbours import NeighbourTable
from engine.retrieval.trending import Trending
from engine.retrieval.types import PathResult, Query
from engine.runs import contains

POPULAR_LOOKAHEAD = 4  # the popular path re-scores this many times its size of the global list

__all__ = [
    "ann_path",
    "covisit_path",
    "history_path",
    "popular_path",
    "promoted_path",
    "trending_path",
]


def ann_path(
    query: Query, index: AnnIndex, size: int, quota: int, params: dict[str, int] | None
) -> PathResult:
    """Nearest items to the user's (or the explicit query's) embedding."""
    if query.vector is None or size == 0:
        return _empty("ann", quota)
    found = index.search(query.vector, min(size, index.count), params)
    keep = found.ids[0] >= 0
    return PathResult("ann", found.ids[0][keep], found.scores[0][keep], quota)


def history_path(
    query: Query,
    index: AnnIndex,
    catalog: Catalog,
    recent: int,
    size: int,
    params: dict[str, int] | None,
    table: NeighbourTable | None = None,
) -> PathResult:
    """Items similar to the user's last `recent` items, best score wins: read from the
    precomputed `table` when it keeps enough per seed, else one batched ANN call."""
    seeds = query.history[-recent:]
    seeds = seeds[catalog.vectors[seeds].any(axis=1)]  # items with no vector have no neighbours
    if len(seeds) == 0 or size == 0:
        return _empty("history", size)
    per_seed = min(index.count, -(-size // len(seeds)) + len(seeds))
    rows = None if table is None else table.rows(seeds, per_seed)
    if rows is None:
        found = index.search(catalog.vectors[seeds], per_seed, params)
        rows = found.ids, found.scores
    ids, scores = rows[0].ravel(), rows[1].ravel()
    ids, scores = _best_first_unique(ids, scores, exclude=seeds)
    return PathResult("history", ids[:size], scores[:size], size)


def covisit_path(query: Query, cooc: Cooccurrence, recent: int, size: int) -> PathResult:
    """Items other users clicked close in time to the user's last `recent` items, by summed
    co-visit counts; the seeds themselves are left out."""
    seeds = query.history[-recent:]
    if len(seeds) == 0 or size == 0:
        return _empty("covisit", size)
    ids, scores = cooc.neighbours(seeds)
    keep = ~contains(ids, seeds)
    ids, scores = ids[keep], scores[keep]
    order = _top(scores, size)
    return PathResult("covisit", ids[order], scores[order], size)


def popular_path(query: Query, popular: Trending, catalog: Catalog, size: int, quota: int) -> PathResult:
    """The most liked items overall, each count raised by the user's share in its category
    (x (1 + share)), so that the user's categories come forward; plain counts for a cold
    start. Returns up to `size` items so that it can back-fill the set beyond its `quota`."""
    if size == 0:
        return _empty("popular", quota)
    if len(query.top_categories) == 0:
        return PathResult("popular", popular.global_items[:size], popular.global_scores[:size], quota)
    # Enough of the global list that a doubled count cannot come from beyond it.
    ids = popular.global_items[: POPULAR_LOOKAHEAD * size]
    scores = popular.global_scores[: len(ids)]
    weights = query.category_weights.astype(np.float32)
    order, raised = raised_top(ids, scores, catalog.category, query.top_categories, weights, size)
    return PathResult("popular", ids[order], raised, quota)


def trending_path(query: Query, trending: Trending, size: int) -> PathResult:
    """Trending items in the user's top categories (globally for a cold start)."""
    if size == 0:
        return _empty("trending", size)
    if len(query.top_categories) == 0:
        ids, scores = trending.global_items[:size], trending.global_scores[:size]
        return PathResult("trending", ids, scores, size)
    ids, scores = _in_categories(query, trending, size)
    return PathResult("trending", ids, scores, size)


def _in_categories(query: Query, lists: Trending, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The best `size` items of the user's top categories, each category's scores weighted
    by how much the user cares about it. An item has one category, so the lists share no
    item: a stable sort of their weighted scores is all."""
    parts = [lists.in_category(int(c)) for c in query.top_categories]
    ids = np.concatenate([p[0][:size] for p in parts])
    weights = np.repeat(query.category_weights, [min(size, len(p[0])) for p in parts])
    scores = np.concatenate([p[1][:size] for p in parts]) * weights
    best = np.argsort(-scores, kind="stable")[:size]
    return ids[best], scores[best]


@dataclass(frozen=True)
class Promoted:
    """The in-stock promoted items, gathered once at start-up so a request reads one small
    contiguous block instead of scattered rows of the catalog."""

    item_ids: np.ndarray
    vectors: np.ndarray
    log_popularity: np.ndarray

    @classmethod
    def of(cls, catalog: Catalog) -> Promoted:
        ids = np.flatnonzero(catalog.promoted & (catalog.inventory > 0))
        vectors = np.ascontiguousarray(catalog.vectors[ids], dtype=np.float32)
        return cls(ids, vectors, np.log(catalog.popularity[ids]).astype(np.float32))


def promoted_path(query: Query, promoted: Promoted, size: int) -> PathResult:
    """In-stock promoted items, most similar to the user first (most popular for a cold start)."""
    if size == 0 or len(promoted.item_ids) == 0:
        return _empty("promoted", size)
    scores = promoted.log_popularity if query.vector is None else promoted.vectors @ query.vector
    order = _top(scores, size)
    return PathResult("promoted", promoted.item_ids[order], scores[order], size)


def _top(scores: np.ndarray, size: int) -> np.ndarray:
    """Positions of the `size` best scores, best first (ties: the earlier position); the
    same choice and order as engine.ann.exact.top_k, at half its cost for one row: select,
    put the selected positions in order, then a stable sort of their scores."""
    size = min(size, len(scores))
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    chosen = np.sort(np.argpartition(-scores, size - 1)[:size]) if size < len(scores) else np.arange(size)
    return chosen[np.argsort(-scores[chosen], kind="stable")]


def _best_first_unique(
    ids: np.ndarray, scores: np.ndarray, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Drop -1 padding and `exclude`, keep each id's best score, sort best first (ties: the
    earlier entry). The few duplicates go first, in one compiled pass, so the sort is of
    distinct ids only."""
    exclude = np.zeros(0, dtype=np.int64) if exclude is None else np.sort(exclude)
    kept = best_entry_per_id(ids, scores, exclude)
    kept = kept[np.argsort(-scores[kept], kind="stable")]
    return ids[kept], scores[kept]


def _empty(name: str, quota: int) -> PathResult:
    return PathResult(name, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), quota)
