"""How every compiled loop of the request path is compiled, and the loops that share helpers.

Inside a request, numpy pays a few microseconds per call before any arithmetic, and a
stage written as twenty array calls over 500 candidates is mostly that overhead. Where a
stage reads more plainly as one loop over its entries, numba compiles that loop: one call,
no temporaries, the GIL released so requests run side by side. Each loop has a test against
the rule it implements, written plainly (tests/test_kernels.py and the callers' tests).

Machine code is cached next to this module (`__pycache__`, else numba's user cache
directory, or $NUMBA_CACHE_DIR): only the first run after an install or a change pays the
compile. numba keys that cache on the file of the loop it compiles, not on the files of the
loops it calls: the loops share helpers (a binary search, an id table, a merge of ordered
runs), so they live in one file, where a change to a helper recompiles its callers. A loop
that shares nothing stays beside its caller (engine.features.loops, runs, rules, resolve);
tests/test_kernels.py fails when a loop calls a loop of another file.
No loop sorts or calls `np.where`, `np.flatnonzero` or `np.searchsorted`: numba compiles its
own version into each loop that does (up to 1 s per loop on a first install); callers sort
with numpy, and `lower_bound` searches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

_OPTIONS: dict[str, Any] = {"nogil": True, "error_model": "numpy"}


def kernel(function: Callable[..., Any]) -> Any:
    """Compile a loop: the GIL released, numpy's rules for division and errors (no Python
    exception machinery inside the loop), the machine code cached on disk. Where no cache
    directory is writable (a read-only install without a home), numba refuses to cache:
    the loop is then compiled once per process instead of failing the import."""
    try:
        return njit(cache=True, **_OPTIONS)(function)
    except RuntimeError:
        return njit(cache=False, **_OPTIONS)(function)


# ------------------------------------------------------------------ shared helpers
@kernel
def lower_bound(sorted_values: np.ndarray, value: Any) -> int:
    """The first position whose value is not below `value` (np.searchsorted, side left)."""
    lo, hi = 0, len(sorted_values)
    while lo < hi:
        mid = (lo + hi) >> 1
        if sorted_values[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def _in_sorted(sorted_values: np.ndarray, value: Any) -> bool:
    at = lower_bound(sorted_values, value)
    return at < len(sorted_values) and sorted_values[at] == value


@kernel
def _id_table(n: int) -> np.ndarray:
    """An empty open-addressing table for `n` ids (-1: empty): a power of two above 2n, so
    that it stays half empty and probes stay short."""
    slots = 1
    while slots < 2 * n + 2:
        slots *= 2
    return np.full(slots, -1, dtype=np.int64)


@kernel
def _slot(table: np.ndarray, item: int) -> int:
    """Where `item` is in the table, or the empty slot where it belongs."""
    mask = len(table) - 1
    slot = (item * 2654435761) & mask
    while table[slot] != -1 and table[slot] != item:
        slot = (slot + 1) & mask
    return slot


@kernel
def merge_runs(key: np.ndarray, run: np.ndarray, n_runs: int, n_out: int) -> np.ndarray:
    """The `n_out` positions of largest `key`, ties by the lower position, where the
    positions of each run (`run[i]` in 0..n_runs-1) already come in that order: a merge of
    the runs' heads, no sort. The candidate merge, the promoted boost and the popular path
    use it."""
    starts = np.zeros(n_runs + 1, dtype=np.int64)  # run r's members: members[starts[r]:starts[r + 1]]
    for i in range(len(run)):
        starts[run[i] + 1] += 1
    for r in range(n_runs):
        starts[r + 1] += starts[r]
    members = np.empty(len(run), dtype=np.int64)
    fill = starts[:-1].copy()
    for i in range(len(run)):
        members[fill[run[i]]] = i
        fill[run[i]] += 1
    head = starts[:-1].copy()  # each run's next member, its position and its key
    head_at = np.full(n_runs, -1, dtype=np.int64)
    head_key = np.empty(n_runs, dtype=key.dtype)
    for r in range(n_runs):
        if head[r] < starts[r + 1]:
            head_at[r] = members[head[r]]
            head_key[r] = key[head_at[r]]
    out = np.empty(n_out, dtype=np.int64)
    for place in range(n_out):
        best = -1
        for r in range(n_runs):
            if head_at[r] >= 0 and (
                best < 0
                or head_key[r] > head_key[best]
                or (head_key[r] == head_key[best] and head_at[r] < head_at[best])
            ):
                best = r
        out[place] = head_at[best]
        head[best] += 1
        head_at[best] = members[head[best]] if head[best] < starts[best + 1] else -1
        if head_at[best] >= 0:
            head_key[best] = key[head_at[best]]
    return out


# --------------------------------------------------------------------- gathers
@kernel
def gather_rows(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """table[rows] for a few hundred random rows of a large table: copied element by
    element, the loop keeps many cache misses in flight where numpy copies row by row
    (docs/benchmarks.md: the loop is the faster)."""
    out = np.empty((len(rows), table.shape[1]), dtype=table.dtype)
    for i in range(len(rows)):
        row = rows[i]  # read once: `out` might alias `rows` as far as the compiler knows
        for j in range(table.shape[1]):
            out[i, j] = table[row, j]
    return out


@kernel
def gather_transposed(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """table[rows].T as one contiguous array, the same way."""
    out = np.empty((table.shape[1], len(rows)), dtype=table.dtype)
    for i in range(len(rows)):
        row = rows[i]
        for j in range(table.shape[1]):
            out[j, i] = table[row, j]
    return out


# -------------------------------------------------- memberships and id tables
@kernel
def contains_sorted(values: np.ndarray, sorted_pool: np.ndarray) -> np.ndarray:
    """np.isin(values, sorted_pool), one binary search per value."""
    found = np.empty(len(values), dtype=np.bool_)
    for i in range(len(values)):
        found[i] = _in_sorted(sorted_pool, values[i])
    return found


@kernel
def best_entry_per_id(ids: np.ndarray, scores: np.ndarray, sorted_exclude: np.ndarray) -> np.ndarray:
    """Positions, ascending, of each id's best entry (ties: the earlier), with -1 and the
    ids of `sorted_exclude` left out."""
    table = _id_table(len(ids))
    best_entry = np.empty(len(table), dtype=np.int64)
    for entry in range(len(ids)):
        item = ids[entry]
        if item < 0 or _in_sorted(sorted_exclude, item):
            continue
        slot = _slot(table, item)
        if table[slot] == -1:
            table[slot], best_entry[slot] = item, entry
        elif scores[entry] > scores[best_entry[slot]]:
            best_entry[slot] = entry
    best = np.zeros(len(ids), dtype=np.bool_)
    n_best = 0
    for slot in range(len(table)):
        if table[slot] != -1:
            best[best_entry[slot]] = True
            n_best += 1
    positions = np.empty(n_best, dtype=np.int64)
    n_best = 0
    for entry in range(len(ids)):
        if best[entry]:
            positions[n_best] = entry
            n_best += 1
    return positions


@kernel
def pair_rows(
    keys: np.ndarray,
    counts: np.ndarray,
    n_items: int,
    firsts: np.ndarray,
    sorted_seconds: np.ndarray,
    order: np.ndarray,
) -> np.ndarray:
    """(len(firsts) x len(seconds)) counts of the pairs (first x n_items + second) in the
    sorted `keys`; `order` maps sorted seconds back to their columns."""
    out = np.zeros((len(firsts), len(sorted_seconds)), dtype=np.float32)
    for j in range(len(firsts)):
        if firsts[j] < 0:
            continue
        row = firsts[j] * n_items
        for at in range(lower_bound(keys, row), lower_bound(keys, row + n_items)):
            place = lower_bound(sorted_seconds, keys[at] - row)
            while place < len(sorted_seconds) and sorted_seconds[place] == keys[at] - row:
                out[j, order[place]] = counts[at]
                place += 1
    return out


@kernel
def summed_rows(
    keys: np.ndarray, counts: np.ndarray, n_items: int, seeds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The seeds' rows of the sorted (seed x n_items + item) `keys` added up by item: each
    item once, in the order first met (a seed of -1 has no row)."""
    lo = np.zeros(len(seeds), dtype=np.int64)
    hi = np.zeros(len(seeds), dtype=np.int64)
    total = 0
    for j in range(len(seeds)):
        if seeds[j] >= 0:
            lo[j] = lower_bound(keys, seeds[j] * n_items)
            hi[j] = lower_bound(keys, (seeds[j] + 1) * n_items)
            total += hi[j] - lo[j]
    table = _id_table(total)
    place = np.empty(len(table), dtype=np.int64)
    items = np.empty(total, dtype=np.int64)
    sums = np.zeros(total, dtype=np.float32)
    n = 0
    for j in range(len(lo)):
        for at in range(lo[j], hi[j]):
            item = keys[at] % n_items
            slot = _slot(table, item)
            if table[slot] == -1:
                table[slot], place[slot] = item, n
                items[n] = item
                n += 1
            sums[place[slot]] += counts[at]
    return items[:n], sums[:n]


# ---------------------------------------------------------- merges of ranked runs
@kernel
def merge_paths(
    ids: np.ndarray,
    scores: np.ndarray,
    lengths: np.ndarray,
    quotas: np.ndarray,
    sorted_exclude: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """The paths' lists (concatenated, each in rank order) merged by rank / quota (ties: the
    earlier path), each item once, `sorted_exclude` left out, the first `size` kept with
    every path's score and rank; and the distinct and unseen counts."""
    n_paths, n_entries = len(lengths), len(ids)
    starts = np.zeros(n_paths + 1, dtype=np.int64)
    key = np.empty(n_entries)  # minus rank / quota: the merge takes the largest first
    path_of = np.empty(n_entries, dtype=np.int64)
    for p in range(n_paths):
        starts[p + 1] = starts[p] + lengths[p]
        for entry in range(starts[p], starts[p + 1]):
            key[entry], path_of[entry] = -((entry - starts[p]) / quotas[p]), p
    table = _id_table(n_entries)
    row_of = np.empty(len(table), dtype=np.int64)  # row, or EXCLUDED / BEYOND
    excluded, beyond = -2, -1
    capacity = min(size, n_entries)
    item_ids = np.empty(capacity, dtype=np.int64)
    path_scores = np.full((capacity, n_paths), np.nan, dtype=np.float32)
    path_ranks = np.full((capacity, n_paths), -1, dtype=np.int32)
    n_kept, n_unseen, n_excluded = 0, 0, 0
    for entry in merge_runs(key, path_of, n_paths, n_entries):
        item, path = ids[entry], path_of[entry]
        slot = _slot(table, item)
        if table[slot] == -1:  # first time this item is seen
            table[slot] = item
            if _in_sorted(sorted_exclude, item):
                row_of[slot] = excluded
                n_excluded += 1
            elif n_kept < size:
                row_of[slot] = n_kept
                item_ids[n_kept] = item
                n_kept += 1
                n_unseen += 1
            else:
                row_of[slot] = beyond
                n_unseen += 1
        row = row_of[slot]
        if row >= 0:
            path_scores[row, path] = scores[entry]
            path_ranks[row, path] = entry - starts[path]
    return item_ids[:n_kept], path_scores[:n_kept], path_ranks[:n_kept], n_unseen + n_excluded, n_unseen


@kernel
def merge_two_runs(scores: np.ndarray, in_first: np.ndarray, merged_by: np.ndarray) -> np.ndarray:
    """Positions best first by `merged_by`, ties by position, merging the run of positions
    `in_first` and the rest; empty when `scores` is not in descending order (or holds NaN)."""
    n = len(scores)
    for i in range(1, n):
        if not scores[i] <= scores[i - 1]:
            return np.empty(0, dtype=np.int64)
    run = np.empty(n, dtype=np.int64)
    for i in range(n):
        run[i] = 0 if in_first[i] else 1
    return merge_runs(merged_by, run, 2, n)


@kernel
def raised_top(
    ids: np.ndarray,
    scores: np.ndarray,
    item_category: np.ndarray,
    categories: np.ndarray,
    weights: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the `size` best raised scores (score x (1 + weight of the item's
    category)), best first, ties by position, and those scores. The list is sorted by score
    and one category's items are raised alike, so the items of each user category and the
    rest are each still in order: a merge of those few runs."""
    n, k = len(ids), len(categories)
    run = np.empty(n, dtype=np.int64)  # the user category's index, or k for the rest
    raised = np.empty(n, dtype=np.float32)
    key = np.empty(n)
    for i in range(n):
        run[i] = k
        for j in range(k):
            if categories[j] == item_category[ids[i]]:
                run[i] = j
        raised[i] = scores[i] * (np.float32(1.0) + (weights[run[i]] if run[i] < k else np.float32(0.0)))
        key[i] = raised[i]
    best = merge_runs(key, run, k + 1, min(size, n))
    return best, raised[best]
