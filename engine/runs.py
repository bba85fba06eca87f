"""Runs of equal keys in a sorted array: where each run starts and each element's place in
its run. One definition for every "rank within its group" (a category's items, a request's
candidates, a user's events). Also membership in a small set, by one sorted search."""

from __future__ import annotations

import numpy as np

from engine.kernels import contains_sorted, kernel

LONG_RUN = 16  # ties beyond this many: a stable sort of the whole list beats insertion


def run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """True where a run of equal keys begins (the first element always does)."""
    starts = np.empty(len(sorted_keys), dtype=bool)
    if len(sorted_keys):
        starts[0] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
    return starts


def place_in_run(starts: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run, from `run_starts`."""
    index = np.arange(len(starts))
    return index - np.maximum.accumulate(np.where(starts, index, 0))


def run_first_index(starts: np.ndarray) -> np.ndarray:
    """For each element, the index of the first element of its run."""
    index = np.arange(len(starts))
    return np.maximum.accumulate(np.where(starts, index, 0))


def value_at(sorted_keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """A sparse map's get: values[i] where sorted_keys[i] equals the query key, 0 where the
    key is absent (pair counts, labels, profile weights kept as sorted int64 keys)."""
    query = np.asarray(query)
    if len(sorted_keys) == 0:
        return np.zeros(query.shape, dtype=values.dtype)
    slot = np.searchsorted(sorted_keys, query).clip(max=len(sorted_keys) - 1)
    return np.where(sorted_keys[slot] == query, values[slot], values.dtype.type(0))


def contains(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """True where `values` is in `pool`: np.isin for a request's few seen or seed ids, in one
    compiled pass over the sorted pool (np.isin sorts both sides, or builds a table spanning
    the id range)."""
    values = np.asarray(values)
    if len(pool) == 0 or values.size == 0:
        return np.zeros(values.shape, dtype=bool)
    return contains_sorted(values.ravel(), np.sort(pool)).reshape(values.shape)


def best_first(scores: np.ndarray) -> np.ndarray:
    """Positions of `scores` best first, ties in position order: a stable descending argsort.

    For a model's scores: numpy's stable sort (timsort) is 3x slower on a request's 500 of
    them than its default sort (vectorised, SIMD), which is not stable. So: the fast sort,
    then each run of equal scores (a model's tie often, in runs of two or three) put back in
    position order by one compiled pass. Where a run is long (counts tie often), timsort
    suits better and is used instead."""
    order, long_run = _ties_in_position_order(scores, np.argsort(-scores))
    return np.argsort(-scores, kind="stable") if long_run else order


@kernel
def _ties_in_position_order(scores: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, bool]:
    """`order` with each short run of equal scores in position order (an insertion sort:
    most runs are two or three entries); True, and the rest left as it is, at a long run."""
    order = order.copy()
    start = 0
    for end in range(1, len(order) + 1):
        if end < len(order):
            a, b = scores[order[start]], scores[order[end]]
            if a == b or (np.isnan(a) and np.isnan(b)):  # NaN sorts last, unequal to itself
                continue
        if end - start > LONG_RUN:
            return order, True
        for i in range(start + 1, end):
            position, j = order[i], i
            while j > start and order[j - 1] > position:
                order[j] = order[j - 1]
                j -= 1
            order[j] = position
        start = end
    return order, False
