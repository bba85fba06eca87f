"""Item and user embeddings learned from interactions when a data set brings none:
implicit-feedback matrix factorisation (alternating least squares, Hu, Koren and Volinsky
2008) in plain numpy. Each user or item is one small d x d solve per sweep."""

from __future__ import annotations

import numpy as np

from engine.progress import Progress, no_progress


def implicit_als(
    users: np.ndarray,
    items: np.ndarray,
    n_users: int,
    n_items: int,
    *,
    dim: int = 32,
    iterations: int = 8,
    reg: float = 0.1,
    alpha: float = 10.0,
    seed: int = 0,
    progress: Progress = no_progress,
) -> tuple[np.ndarray, np.ndarray]:
    """(user vectors, item vectors), L2-normalised float32; confidence 1 + alpha * count."""
    rng = np.random.default_rng(seed)
    pairs, counts = np.unique(users.astype(np.int64) * n_items + items, return_counts=True)
    pair_users, pair_items = pairs // n_items, pairs % n_items
    confidence = 1.0 + alpha * counts
    by_user = _csr(pair_users, pair_items, confidence, n_users)
    by_item = _csr(pair_items, pair_users, confidence, n_items)
    user_vectors = rng.normal(0, 0.1, (n_users, dim))
    item_vectors = rng.normal(0, 0.1, (n_items, dim))
    for step in range(iterations):
        user_vectors = _solve(item_vectors, *by_user, reg)
        item_vectors = _solve(user_vectors, *by_item, reg)
        progress("learn embeddings", step + 1, iterations)
    return _normalise(user_vectors, rng), _normalise(item_vectors, rng)


def _csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n_rows: int):
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, cols[order], values[order]


def _solve(fixed: np.ndarray, indptr: np.ndarray, indices: np.ndarray, confidence: np.ndarray, reg: float):
    dim = fixed.shape[1]
    gram = fixed.T @ fixed + reg * np.eye(dim)
    out = np.zeros((len(indptr) - 1, dim))
    for row in range(len(indptr) - 1):
        start, end = indptr[row], indptr[row + 1]
        if start == end:
            continue
        factors, weight = fixed[indices[start:end]], confidence[start:end]
        system = gram + (factors.T * (weight - 1.0)) @ factors
        out[row] = np.linalg.solve(system, (factors.T * weight).sum(axis=1))
    return out


def _normalise(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit rows; rows that learned nothing (no interactions) get a random direction."""
    norms = np.linalg.norm(vectors, axis=1)
    empty = norms < 1e-9
    vectors[empty] = rng.normal(0, 1, (int(empty.sum()), vectors.shape[1]))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
