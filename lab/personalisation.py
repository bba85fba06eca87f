"""How personal a list is: whether users get their own items, and which retrieval paths put
them there.

A list can score well by showing everyone the same bestsellers; these numbers tell that apart
from a list that follows each user's taste. `eval` reports them for every list it judges.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import csr_matrix


def overlap(lists: list[np.ndarray]) -> dict[str, float | int]:
    """Distinct items over the users' lists, and the mean Jaccard overlap of two users' lists
    over every pair of users (0: nobody shares an item; 1: everyone sees the same list)."""
    lists = [np.unique(ranked) for ranked in lists]
    if not lists:
        return {"distinct_items": 0, "mean_pairwise_jaccard": float("nan")}
    items, column = np.unique(np.concatenate(lists), return_inverse=True)
    lengths = np.array([len(ranked) for ranked in lists])
    rows = np.repeat(np.arange(len(lists)), lengths)
    matrix = csr_matrix((np.ones(len(rows), np.float32), (rows, column)), shape=(len(lists), len(items)))
    shared = (matrix @ matrix.T).toarray()
    union = lengths[:, None] + lengths[None, :] - shared
    pairs = np.triu_indices(len(lists), k=1)
    jaccard = shared[pairs] / np.maximum(union[pairs], 1)
    return {
        "distinct_items": len(items),
        "mean_pairwise_jaccard": float(jaccard.mean()) if len(jaccard) else float("nan"),
    }


def path_shares(found: list[np.ndarray], path_names: tuple[str, ...]) -> dict[str, Any]:
    """Of all the top-K slots (each user's list, rows x paths: which paths found each item),
    the share each path found, the share it found alone, and the share the two vector
    searches (the ANN and history paths) found between them."""
    slots = np.concatenate(found) if found else np.zeros((0, len(path_names)), dtype=bool)
    total = max(len(slots), 1)
    alone = slots & (slots.sum(axis=1, keepdims=True) == 1)
    shares: dict[str, Any] = {
        name: {"found": float(slots[:, p].sum() / total), "alone": float(alone[:, p].sum() / total)}
        for p, name in enumerate(path_names)
    }
    vector = [path_names.index(name) for name in ("ann", "history") if name in path_names]
    shares["ann_or_history"] = float(slots[:, vector].any(axis=1).sum() / total) if vector else 0.0
    return shares
