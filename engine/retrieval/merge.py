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
from engine.runs import contains


def merge(results: list[PathResult], size: int, exclude: np.ndarray | None = None) -> CandidateSet:
    names = tuple(r.name for r in results)
    lengths = [len(r) for r in results]
    ids = np.concatenate([r.item_ids for r in results]).astype(np.int64, copy=False)
    # Entries stand path after path, so a stable sort on rank / quota breaks ties by path.
    key = np.concatenate([np.arange(n) / max(r.quota, 1) for n, r in zip(lengths, results, strict=True)])
    order = np.argsort(key, kind="stable")
    n_excluded = 0
    if exclude is not None and len(exclude):
        excluded = contains(ids, exclude)
        order = order[~excluded[order]]
        # An excluded id is excluded wherever it occurs, so the distinct ids split cleanly.
        n_excluded = len(np.unique(ids[excluded]))
    distinct_ids, first, distinct_of_entry = np.unique(ids[order], return_index=True, return_inverse=True)
    kept = np.argsort(first, kind="stable")[:size]  # distinct ids by their earliest entry
    item_ids = distinct_ids[kept]
    n = len(item_ids)

    # Provenance: every entry whose id was kept fills its path's column in that id's row.
    row_of_distinct = np.full(len(distinct_ids), -1, dtype=np.int64)
    row_of_distinct[kept] = np.arange(n)
    rows = row_of_distinct[distinct_of_entry]
    hit = rows >= 0
    entries, rows = order[hit], rows[hit]
    path = np.repeat(np.arange(len(results)), lengths)[entries]
    ranks = np.concatenate([np.arange(m, dtype=np.int32) for m in lengths])
    path_scores = np.full((n, len(results)), np.nan, dtype=np.float32)
    path_ranks = np.full((n, len(results)), -1, dtype=np.int32)
    path_scores[rows, path] = np.concatenate([r.scores for r in results])[entries]
    path_ranks[rows, path] = ranks[entries]
    return CandidateSet(
        item_ids=item_ids,
        path_names=names,
        path_scores=path_scores,
        path_ranks=path_ranks,
        similarity=np.full(n, np.nan, dtype=np.float32),
        counts=MergeCounts(tuple(lengths), len(first) + n_excluded, len(first), n),
    )
