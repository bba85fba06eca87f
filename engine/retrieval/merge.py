"""Merge path results into one de-duplicated candidate set, keeping provenance.

Every path has a quota. An entry at rank r of a path with quota q gets the key r / q, and
entries are taken in key order: paths interleave in proportion to their quotas, and entries
past a path's quota (key >= 1) only back-fill the set once every path's quota is used. A
candidate found by several paths appears once, at its earliest key, and keeps its score and
rank in every path that found it.
"""

from __future__ import annotations

import numpy as np

from engine.kernels import merge_paths
from engine.retrieval.types import CandidateSet, MergeCounts, PathResult


def merge(results: list[PathResult], size: int, exclude: np.ndarray | None = None) -> CandidateSet:
    lengths = np.array([len(r) for r in results], dtype=np.int64)
    quotas = np.array([max(r.quota, 1) for r in results], dtype=np.int64)
    ids = np.concatenate([r.item_ids for r in results]).astype(np.int64, copy=False)
    scores = np.concatenate([r.scores for r in results]).astype(np.float32, copy=False)
    exclude = np.zeros(0, dtype=np.int64) if exclude is None else np.sort(np.asarray(exclude, dtype=np.int64))
    item_ids, path_scores, path_ranks, distinct, unseen = merge_paths(
        ids, scores, lengths, quotas, exclude, size
    )
    n = len(item_ids)
    return CandidateSet(
        item_ids=item_ids,
        path_names=tuple(r.name for r in results),
        path_scores=path_scores,
        path_ranks=path_ranks,
        similarity=np.full(n, np.nan, dtype=np.float32),
        counts=MergeCounts(tuple(lengths.tolist()), distinct, unseen, n),
    )
