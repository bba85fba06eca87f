"""Candidate recall against exact search, counting ties as hits (as ann-benchmarks does).

A returned item is a hit when its exact score reaches the true k-th best score: with ties
at the boundary, any of the tied items is a correct answer. Scores are recomputed from the
vectors so a backend's own (approximate or quantised) scores are never trusted.
"""

from __future__ import annotations

import random
import threading
from collections import deque

import numpy as np

from engine.latency import HISTORY  # the same recent window as the stage percentiles

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


def ann_recall(
    exact, vectors: np.ndarray, query: np.ndarray | None, found_ids: np.ndarray, k: int
) -> float | None:
    """Recall@k of one ANN result against `exact` search (an exact AnnIndex over `vectors`);
    ids it did not return are misses; None without a query (a cold start)."""
    if query is None:
        return None
    truth = exact.search(query, k)
    found = np.full((1, k), -1, dtype=np.int64)
    found[0, : min(k, len(found_ids))] = found_ids[:k]
    return float(recall_at_k(found, query[None, :], vectors, truth.scores[:, -1])[0])


class RecallSampler:
    """Recall@k of the ANN path against exact search for a random share of served requests,
    measured off the request's path (an exact search costs far more than the request), so an
    operator sees how recall holds in service."""

    def __init__(self, rate: float, seed: int | None = None, recent: int = HISTORY):
        self.rate = rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._count, self._total = 0, 0.0
        self._recent: deque[float] = deque(maxlen=recent)

    def wants(self) -> bool:
        """Whether this request's recall should be measured (after it is answered)."""
        with self._lock:
            return self.rate > 0 and self._rng.random() < self.rate

    def add(self, recall: float | None) -> None:
        if recall is None:  # a cold start has no ANN query to judge
            return
        with self._lock:
            self._count += 1
            self._total += recall
            self._recent.append(recall)

    def summary(self) -> dict[str, float | int | None]:
        with self._lock:
            return {
                "rate": self.rate,
                "sampled": self._count,
                "mean": self._total / self._count if self._count else None,
                "recent_mean": sum(self._recent) / len(self._recent) if self._recent else None,
            }
