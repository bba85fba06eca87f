"""The four retrieval paths. Each returns at most `size` items, best first, in one or two
vectorised library calls; none loops over items in Python."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.ann.base import AnnIndex
from engine.data import Catalog
from engine.retrieval.trending import Trending
from engine.retrieval.types import PathResult, Query


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
) -> PathResult:
    """Items similar to the user's last `recent` items: one batched ANN call, best score wins."""
    seeds = query.history[-recent:]
    if len(seeds) == 0 or size == 0:
        return _empty("history", size)
    per_seed = min(index.count, -(-size // len(seeds)) + len(seeds))
    found = index.search(catalog.vectors[seeds], per_seed, params)
    ids, scores = found.ids.ravel(), found.scores.ravel()
    ids, scores = _best_first_unique(ids, scores, exclude=seeds)
    return PathResult("history", ids[:size], scores[:size], size)


def trending_path(query: Query, trending: Trending, size: int) -> PathResult:
    """Trending items in the user's top categories (globally for a cold start)."""
    if size == 0:
        return _empty("trending", size)
    if len(query.top_categories) == 0:
        ids, scores = trending.global_items[:size], trending.global_scores[:size]
        return PathResult("trending", ids, scores, size)
    parts = [trending.in_category(int(c)) for c in query.top_categories]
    ids = np.concatenate([p[0][:size] for p in parts])
    # Weight each category's trend scores by how much the user cares about that category.
    weights = np.repeat(query.category_weights, [min(size, len(p[0])) for p in parts])
    scores = np.concatenate([p[1][:size] for p in parts]) * weights
    ids, scores = _best_first_unique(ids, scores)
    return PathResult("trending", ids[:size], scores[:size], size)


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
    """Positions of the `size` best scores, best first, without sorting everything."""
    if size < len(scores):
        part = np.argpartition(-scores, size - 1)[:size]
        return part[np.argsort(-scores[part], kind="stable")]
    return np.argsort(-scores, kind="stable")


def _best_first_unique(
    ids: np.ndarray, scores: np.ndarray, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Drop -1 padding and `exclude`, keep each id's best score, sort best first."""
    keep = ids >= 0
    if exclude is not None and len(exclude):
        keep &= ~np.isin(ids, exclude)
    ids, scores = ids[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")
    ids, scores = ids[order], scores[order]
    _, first = np.unique(ids, return_index=True)
    first.sort()
    return ids[first], scores[first]


def _empty(name: str, quota: int) -> PathResult:
    return PathResult(name, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), quota)
