"""Ranking quality per group (one user's list), averaged over groups: NDCG@k, recall@k, MRR."""

from __future__ import annotations

import numpy as np


def rank_within_groups(scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """0-based position of each row in its group when sorted by score, best first.
    Ties keep the rows' input order, so equal scores never flatter a model."""
    order = np.lexsort((np.arange(len(scores)), -scores, groups))
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(order)])
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order)) - np.repeat(starts, sizes)
    return ranks


def ranking_metrics(
    scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int = 10
) -> dict[str, float]:
    """Mean NDCG@k (gain 2^label - 1), recall@k of rows with label > 0, and MRR of the first
    such row, over groups that have at least one positive."""
    ranks = rank_within_groups(scores, groups)
    ideal = rank_within_groups(labels.astype(np.float64), groups)
    _, group_index = np.unique(groups, return_inverse=True)
    n_groups = group_index.max() + 1 if len(group_index) else 0
    gain = np.power(2.0, labels) - 1.0
    discount = 1.0 / np.log2(ranks + 2.0)
    ideal_discount = 1.0 / np.log2(ideal + 2.0)
    dcg = np.bincount(group_index, weights=np.where(ranks < k, gain * discount, 0.0), minlength=n_groups)
    idcg = np.bincount(
        group_index, weights=np.where(ideal < k, gain * ideal_discount, 0.0), minlength=n_groups
    )
    positive = labels > 0
    positives = np.bincount(group_index, weights=positive, minlength=n_groups)
    hits = np.bincount(group_index, weights=positive & (ranks < k), minlength=n_groups)
    first = np.full(n_groups, np.inf)
    np.minimum.at(first, group_index[positive], ranks[positive])
    judged = positives > 0
    return {
        f"ndcg@{k}": float(np.mean(dcg[judged] / idcg[judged])) if judged.any() else float("nan"),
        f"recall@{k}": float(np.mean(hits[judged] / positives[judged])) if judged.any() else float("nan"),
        "mrr": float(np.mean(1.0 / (first[judged] + 1.0))) if judged.any() else float("nan"),
        "groups": int(judged.sum()),
    }
