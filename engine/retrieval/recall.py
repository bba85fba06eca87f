"""Candidate recall against exact search, counting ties as hits (as ann-benchmarks does).

A returned item is a hit when its exact score reaches the true k-th best score: with ties
at the boundary, any of the tied items is a correct answer. Scores are recomputed from the
vectors so a backend's own (approximate or quantised) scores are never trusted.
"""

from __future__ import annotations

import numpy as np

TIE_EPS = 1e-5
_BLOCK = 64


def recall_at_k(
    found_ids: np.ndarray, queries: np.ndarray, vectors: np.ndarray, kth_true_scores: np.ndarray
) -> np.ndarray:
    """Per-query recall of `found_ids` (nq x k, -1 = missing) given each query's true k-th score."""
    found_ids = np.atleast_2d(found_ids)
    queries = np.atleast_2d(queries)
    k = found_ids.shape[1]
    recall = np.empty(len(found_ids), dtype=np.float64)
    for start in range(0, len(found_ids), _BLOCK):
        ids = found_ids[start : start + _BLOCK]
        exact = np.einsum("qkd,qd->qk", vectors[np.maximum(ids, 0)], queries[start : start + _BLOCK])
        hits = (exact >= kth_true_scores[start : start + _BLOCK, None] - TIE_EPS) & (ids >= 0)
        recall[start : start + _BLOCK] = np.minimum(hits.sum(axis=1), k) / k
    return recall
