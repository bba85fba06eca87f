"""Merge path results into one de-duplicated candidate set, keeping provenance.

Every path has a quota. An entry at rank r of a path with quota q gets the key r / q, and
entries are taken in key order: paths interleave in proportion to their quotas, and entries
past a path's quota (key >= 1) only back-fill the set once every path's quota is used. A
candidate found by several paths appears once, at its earliest key, and keeps its score and
rank in every path that found it.
"""

from __future__ import annotations

import numpy as np

from engine.compiled import kernel
from engine.retrieval.types import CandidateSet, MergeCounts, PathResult


def merge(results: list[PathResult], size: int, exclude: np.ndarray | None = None) -> CandidateSet:
    lengths = np.array([len(r) for r in results], dtype=np.int64)
    quotas = np.array([max(r.quota, 1) for r in results], dtype=np.int64)
    ids = np.concatenate([r.item_ids for r in results]).astype(np.int64, copy=False)
    scores = np.concatenate([r.scores for r in results]).astype(np.float32, copy=False)
    exclude = np.zeros(0, dtype=np.int64) if exclude is None else np.sort(np.asarray(exclude, dtype=np.int64))
    item_ids, path_scores, path_ranks, distinct, unseen = _merge(ids, scores, lengths, quotas, exclude, size)
    n = len(item_ids)
    return CandidateSet(
        item_ids=item_ids,
        path_names=tuple(r.name for r in results),
        path_scores=path_scores,
        path_ranks=path_ranks,
        similarity=np.full(n, np.nan, dtype=np.float32),
        counts=MergeCounts(tuple(lengths.tolist()), distinct, unseen, n),
    )


@kernel
def _merge(
    ids: np.ndarray,
    scores: np.ndarray,
    lengths: np.ndarray,
    quotas: np.ndarray,
    sorted_exclude: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """One pass over the entries in key order (a k-way merge of the paths, each already in
    rank order), with an open-addressing table from item id to its row (or to "excluded",
    or "distinct but beyond `size`")."""
    n_paths, n_entries = len(lengths), len(ids)
    starts = np.zeros(n_paths + 1, dtype=np.int64)
    next_key = np.empty(n_paths)  # each path's next entry's rank / quota
    for p in range(n_paths):
        starts[p + 1] = starts[p] + lengths[p]
        next_key[p] = 0.0 if lengths[p] > 0 else np.inf
    slots = 1
    while slots < 2 * n_entries + 2:
        slots *= 2
    slot_item = np.full(slots, -1, dtype=np.int64)
    slot_row = np.empty(slots, dtype=np.int64)  # row, or EXCLUDED / BEYOND
    excluded, beyond = -2, -1
    capacity = min(size, n_entries)
    item_ids = np.empty(capacity, dtype=np.int64)
    path_scores = np.full((capacity, n_paths), np.nan, dtype=np.float32)
    path_ranks = np.full((capacity, n_paths), -1, dtype=np.int32)
    next_rank = np.zeros(n_paths, dtype=np.int64)
    n_kept, n_unseen, n_excluded = 0, 0, 0
    for _ in range(n_entries):
        # The entry with the smallest rank / quota; ties go to the earlier path.
        path = 0
        for p in range(1, n_paths):
            if next_key[p] < next_key[path]:
                path = p
        rank = next_rank[path]
        next_rank[path] += 1
        next_key[path] = next_rank[path] / quotas[path] if next_rank[path] < lengths[path] else np.inf
        entry = starts[path] + rank
        item = ids[entry]
        slot = (item * 2654435761) & (slots - 1)
        while slot_item[slot] != -1 and slot_item[slot] != item:
            slot = (slot + 1) & (slots - 1)
        if slot_item[slot] == -1:  # first time this item is seen
            slot_item[slot] = item
            at = np.searchsorted(sorted_exclude, item)
            if at < len(sorted_exclude) and sorted_exclude[at] == item:
                slot_row[slot] = excluded
                n_excluded += 1
            elif n_kept < size:
                slot_row[slot] = n_kept
                item_ids[n_kept] = item
                n_kept += 1
                n_unseen += 1
            else:
                slot_row[slot] = beyond
                n_unseen += 1
        row = slot_row[slot]
        if row >= 0:
            path_scores[row, path] = scores[entry]
            path_ranks[row, path] = rank
    return item_ids[:n_kept], path_scores[:n_kept], path_ranks[:n_kept], n_unseen + n_excluded, n_unseen
