"""Exact inner-product search in numpy: the oracle every other backend is measured against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.ann.base import AnnIndex
from engine.artifacts import load_array, save_array
from engine.progress import Progress

VECTORS_FILE = "vectors.npy"
_SCORE_BYTES = 64 << 20  # cap on the (queries x items) score block held at once


class ExactIndex(AnnIndex):
    """Brute force: one matrix product and a partial sort. Always available."""

    name = "exact"
    needs_build = False

    def __init__(self) -> None:
        super().__init__()
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def _build(self, data: np.ndarray, progress: Progress) -> None:
        self._vectors = data  # already contiguous float32; an mmap stays an mmap
        progress(f"index {self.name}", self.count, self.count)

    def _search(self, queries: np.ndarray, k: int, params: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        rows = max(1, _SCORE_BYTES // (4 * self.count))
        ids = np.empty((len(queries), k), dtype=np.int64)
        scores = np.empty((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), rows):
            block = queries[start : start + rows] @ self._vectors.T
            ids[start : start + rows], scores[start : start + rows] = top_k(block, k)
        return ids, scores

    def _write(self, directory: Path) -> tuple[str, ...]:
        save_array(directory / VECTORS_FILE, self._vectors)
        return (VECTORS_FILE,)

    def _read(self, directory: Path) -> None:
        self._vectors = load_array(directory / VECTORS_FILE, dtype="float32", ndim=2)

    def memory_bytes(self) -> int:
        return int(self._vectors.nbytes)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best k per row, best first; ties broken by the smaller id so results are stable."""
    n = scores.shape[1]
    part = (
        np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(scores), 1))
    )
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    ids = np.take_along_axis(part, order, axis=1)
    return ids.astype(np.int64), np.take_along_axis(part_scores, order, axis=1)
