"""Turn a stage-1 request into a Query: whose vector, which history, which categories."""

from __future__ import annotations

import numpy as np

from engine.ann.base import as_float32_matrix
from engine.data import Catalog, Users
from engine.kernels import kernel
from engine.limits import DAY, check_user_id
from engine.retrieval.types import CandidateRequest, Query

TOP_CATEGORY_HALF_LIFE_DAYS = 30.0


def resolve(
    request: CandidateRequest,
    catalog: Catalog,
    users: Users,
    history: tuple[np.ndarray, np.ndarray] | None,
    now: int,
    top_categories: int,
) -> Query:
    """`history` is the user's (items, times) up to now, oldest first."""
    user_id = check_user_id(request.user_id)
    known = users.knows(user_id)
    vector = None
    if request.query is not None:
        vector = as_float32_matrix(request.query, what="query vector", dim=catalog.dim)[0]
    elif known and users.vectors[user_id].any():
        vector = users.vectors[user_id]  # an all-zero vector: fitted before the user was seen
    if not known or history is None:
        empty = np.zeros(0, dtype=np.int64)
        return Query(user_id, False, vector, empty, empty, np.zeros(0, dtype=np.float32))
    items, times = history
    top, weights = _top_categories(catalog, items, times, now, top_categories)
    return Query(user_id, True, vector, items, top, weights)


def _top_categories(
    catalog: Catalog, items: np.ndarray, times: np.ndarray, now: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The user's strongest categories by recency-weighted history, and their shares."""
    if len(items) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return _strongest_categories(
        items, times, catalog.category, now, len(catalog.category_names), TOP_CATEGORY_HALF_LIFE_DAYS, n
    )


@kernel
def _strongest_categories(
    items: np.ndarray,
    times: np.ndarray,
    item_category: np.ndarray,
    now: int,
    n_categories: int,
    half_life_days: float,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Each click weighs 2^(-age / half-life); the `n` heaviest categories (ties: the lower
    id), those with any weight, and each one's share of the total."""
    weight = np.zeros(n_categories)
    for i in range(len(items)):
        age_days = max((now - times[i]) / DAY, 0.0)
        weight[item_category[items[i]]] += np.exp2(-age_days / half_life_days)
    top = np.empty(min(n, n_categories), dtype=np.int64)
    taken = np.zeros(n_categories, dtype=np.bool_)
    found = 0
    for _ in range(len(top)):
        best = -1
        for c in range(n_categories):
            if not taken[c] and weight[c] > 0 and (best < 0 or weight[c] > weight[best]):
                best = c
        if best < 0:
            break
        taken[best] = True
        top[found] = best
        found += 1
    return top[:found], (weight[top[:found]] / weight.sum()).astype(np.float32)


def notes(request: CandidateRequest, query: Query, n: int, got: int) -> tuple[str, ...]:
    found = []
    if not query.known_user:
        how = (
            "the query vector, trending and promoted" if query.vector is not None else "trending and promoted"
        )
        found.append(f"user {request.user_id} is unknown: cold start from {how} items")
    elif len(query.history) == 0:
        found.append(f"user {request.user_id} has no history: no history path")
    if got < n:
        found.append(f"only {got} distinct candidates found of the {n} asked for")
    return tuple(found)
