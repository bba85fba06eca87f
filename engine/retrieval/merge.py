"""Merge path results into one de-duplicated candidate set, keeping provenance.

Every path has a quota. An entry at rank r of a path with quota q gets the key r / q, and
entries are taken in key order: paths interleave in proportion to their quotas, and entries
past a path's quota (key >= 1) only back-fill the set once every path's quota is used. A
candidate found by several paths appears once, at its earliest key, and keeps its score and
rank in every path that found it.
"""

from __future__ import annotations

import numpy as np

from engine.retrieval.types import CandidateSet, MergeCounts, PathResult


def merge(results: list[PathResult], size: int, exclude: np.ndarray | None = None) -> CandidateSet:
    names = tuple(r.name for r in results)
    ids = np.concatenate([r.item_ids for r in results]).astype(np.int64, copy=False)
    scores = np.concatenate([r.scores for r in results]).astype(np.float32, copy=False)
    ranks = np.concatenate([np.arange(len(r), dtype=np.int32) for r in results])
    path = np.concatenate([np.full(len(r), p, dtype=np.int32) for p, r in enumerate(results)])
    quota = np.concatenate([np.full(len(r), max(r.quota, 1), dtype=np.float64) for r in results])
    keep = np.ones(len(ids), dtype=bool) if exclude is None else ~np.isin(ids, exclude)

    order = np.flatnonzero(keep)[np.lexsort((path[keep], ranks[keep] / quota[keep]))]
    _, first = np.unique(ids[order], return_index=True)
    chosen = np.sort(first)[:size]
    # An excluded id is excluded wherever it occurs, so the distinct ids split cleanly.
    distinct = len(first) + (0 if exclude is None else len(np.unique(ids[~keep])))
    item_ids = ids[order[chosen]]

    n = len(item_ids)
    path_scores = np.full((n, len(results)), np.nan, dtype=np.float32)
    path_ranks = np.full((n, len(results)), -1, dtype=np.int32)
    if n:
        by_id = np.argsort(item_ids)
        rows = by_id[np.searchsorted(item_ids[by_id], ids).clip(max=n - 1)]
        hit = keep & (item_ids[rows] == ids)
        path_scores[rows[hit], path[hit]] = scores[hit]
        path_ranks[rows[hit], path[hit]] = ranks[hit]
    return CandidateSet(
        item_ids=item_ids,
        path_names=names,
        path_scores=path_scores,
        path_ranks=path_ranks,
        similarity=np.full(len(item_ids), np.nan, dtype=np.float32),
        counts=MergeCounts(tuple(len(r) for r in results), distinct, len(first), n),
    )
