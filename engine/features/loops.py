"""The feature context's compiled loops: each replaces a chain of numpy calls over one
request's rows (engine.kernels says why), and each has a test against the rule it
implements, written plainly (tests/test_kernels.py)."""

from __future__ import annotations

import numpy as np

from engine.events import NEVER
from engine.kernels import kernel

RANK_DECIMALS = 5  # rank features compare values rounded to this many decimals


def rank_pct_one_group(values: np.ndarray) -> np.ndarray:
    """`rank_pct` for one group (a request's candidates): each row's place is where its run
    of equal keys starts in sorted order. numpy sorts (branch-free SIMD; a compiled
    quicksort costs 4x on unpredictable data); the loops around it are compiled."""
    key = rank_key(np.asarray(values))
    return _first_of_run_share(key, np.argsort(key))


@kernel
def rank_key(values: np.ndarray) -> np.ndarray:
    """Values as whole numbers of 10^-RANK_DECIMALS, best (largest) first, NaN last.

    Rounded: serving (one matrix product) and training (per-row sums) compute the same
    similarity with different rounding; ranks must not depend on the last bits."""
    key = np.empty(len(values), dtype=np.float64)
    for i in range(len(values)):
        key[i] = np.inf if np.isnan(values[i]) else np.rint(values[i] * -(10.0**RANK_DECIMALS))
    return key


@kernel
def _first_of_run_share(key: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For each row, the place where its run of equal keys starts in `order`, over n - 1."""
    n = len(key)
    share = np.empty(n, dtype=np.float32)
    first = 0
    for place in range(n):
        if place and key[order[place]] != key[order[place - 1]]:
            first = place
        share[order[place]] = first / max(n - 1, 1)
    return share


@kernel
def summarise_history(
    items: np.ndarray,
    times: np.ndarray,
    item_category: np.ndarray,
    item_log_price: np.ndarray,
    n_categories: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`FeatureContext.history_summary`: histories are rows of item ids, -1 where shorter.
    The entropy is of the clicks' spread over categories, in bits (NaN without clicks)."""
    n_users, width = items.shape
    counts = np.zeros((n_users, n_categories), dtype=np.float32)
    last = np.full((n_users, n_categories), NEVER, dtype=np.int64)
    log_price = np.full(n_users, np.nan)
    entropy = np.full(n_users, np.nan, dtype=np.float32)
    for user in range(n_users):
        total, clicked = 0.0, 0
        for j in range(width):
            item = items[user, j]
            if item < 0:
                continue
            category = item_category[item]
            counts[user, category] += 1
            last[user, category] = max(last[user, category], times[user, j])
            total += item_log_price[item]
            clicked += 1
        if clicked:
            log_price[user] = total / clicked
            bits = 0.0
            for category in range(n_categories):
                if counts[user, category] > 0:
                    share = counts[user, category] / clicked
                    bits -= share * np.log2(share)
            entropy[user] = bits
    return counts, last, log_price, entropy


@kernel
def ranks_by_path(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows x paths) ranks, -1 where not found -> (paths x rows) with NaN there, and how
    many paths found each row."""
    rows, paths = ranks.shape
    block = np.empty((paths, rows), dtype=np.float32)
    found = np.zeros(rows, dtype=np.float32)
    for i in range(rows):
        for p in range(paths):
            if ranks[i, p] >= 0:
                block[p, i] = ranks[i, p]
                found[i] += 1
            else:
                block[p, i] = np.nan
    return block, found


@kernel
def history_similarity_stats(
    item_vectors: np.ndarray,
    vectors: np.ndarray,
    recent: np.ndarray,
    row_user: np.ndarray,
    inverse_norm: np.ndarray,
    row_inverse_norm: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: best, mean and last cosine of its item to its user's recent clicks (rows of
    `recent`, -1 where shorter), NaN without any; one pass, no (rows x clicks x dims) copy."""
    rows, width = len(row_user), recent.shape[1]
    best = np.full(rows, np.nan, dtype=np.float32)
    mean = np.full(rows, np.nan, dtype=np.float32)
    last = np.full(rows, np.nan, dtype=np.float32)
    for i in range(rows):
        clicks = recent[row_user[i]]
        top, total, count = -np.inf, 0.0, 0
        for j in range(width):
            click = clicks[j]
            if click < 0:
                continue
            dot = np.float32(0.0)
            for d in range(item_vectors.shape[1]):
                dot += item_vectors[i, d] * vectors[click, d]
            sim = dot * (inverse_norm[click] * row_inverse_norm[i])
            top = max(top, sim)
            total += sim
            count += 1
            if j == width - 1:
                last[i] = sim
        if count:
            best[i] = top
            mean[i] = total / count
    return best, mean, last
