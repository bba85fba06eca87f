"""Ranking quality of one list: NDCG@k (graded or binary), recall@k and MRR@k."""

from __future__ import annotations

import numpy as np


def graded_ndcg(gains: np.ndarray, ideal: np.ndarray) -> float:
    """DCG of a list's gains over the DCG of the best possible gains (`ideal`, best first)."""
    discounts = 1.0 / np.log2(np.arange(2, max(len(ideal), len(gains)) + 2))
    idcg = float((np.asarray(ideal) * discounts[: len(ideal)]).sum())
    dcg = float((np.asarray(gains) * discounts[: len(gains)]).sum())
    return dcg / idcg if idcg > 0 else 0.0


def list_metrics(ranked: np.ndarray, relevant: np.ndarray, k: int) -> tuple[float, float, float]:
    """NDCG@k, recall@k and MRR@k of one list against one user's relevant items (binary gains)."""
    if len(relevant) == 0:
        return 0.0, 0.0, 0.0
    hits = np.isin(np.asarray(ranked, dtype=np.int64)[:k], relevant)
    first = np.flatnonzero(hits)
    ndcg = graded_ndcg(hits.astype(np.float64), np.ones(min(k, len(relevant))))
    return ndcg, float(hits.sum()) / len(relevant), 1.0 / (first[0] + 1.0) if len(first) else 0.0
