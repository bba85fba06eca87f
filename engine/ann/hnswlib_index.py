"""hnswlib: a standalone HNSW implementation, to compare against FAISS's."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import ClassVar

import hnswlib
import numpy as np

from engine.ann.base import AnnIndex, chunks
from engine.artifacts import atomic_write
from engine.errors import ArtifactError
from engine.progress import Progress

INDEX_FILE = "index.hnswlib"


class HnswlibIndex(AnnIndex):
    """hnswlib keeps `ef` on the index and needs ef >= k, so a search may raise it for a
    call; a lock keeps a concurrent search from seeing another call's ef."""

    name = "hnswlib"
    search_defaults: ClassVar[dict[str, int]] = {"ef": 512}
    history_defaults: ClassVar[dict[str, int]] = {"ef": 64}

    def __init__(self, M: int = 32, ef_construction: int = 200, seed: int = 100) -> None:
        super().__init__(M=M, ef_construction=ef_construction, seed=seed)
        self._index: hnswlib.Index | None = None
        self._lock = threading.Lock()
        self._active_ef = 0

    def _build(self, data: np.ndarray, progress: Progress) -> None:
        index = hnswlib.Index(space="ip", dim=self.dim)
        index.init_index(
            max_elements=len(data),
            M=self.build_params["M"],
            ef_construction=self.build_params["ef_construction"],
            random_seed=self.build_params["seed"],
        )
        for start, stop in chunks(len(data)):
            index.add_items(data[start:stop], np.arange(start, stop), num_threads=os.cpu_count() or 1)
            progress(f"index {self.name}", stop, len(data))
        self._index = index

    def effective_params(self, params: dict[str, int], k: int) -> dict[str, int]:
        return {**params, "ef": max(params["ef"], k)}

    def _search(self, queries: np.ndarray, k: int, params: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        ef = self.effective_params(params, k)["ef"]
        with self._lock:
            if ef != self._active_ef:
                self._index.set_ef(ef)
                self._active_ef = ef
            labels, distances = self._index.knn_query(queries, k=k, num_threads=1)
        return labels.astype(np.int64), 1.0 - distances  # hnswlib's "ip" distance is 1 - <q, x>

    def _write(self, directory: Path) -> tuple[str, ...]:
        atomic_write(directory / INDEX_FILE, lambda tmp: self._index.save_index(str(tmp)))
        return (INDEX_FILE,)

    def _read(self, directory: Path) -> None:
        index = hnswlib.Index(space="ip", dim=self.dim)
        try:
            index.load_index(str(directory / INDEX_FILE), max_elements=self.count)
        except RuntimeError as exc:
            raise ArtifactError(f"hnswlib cannot read {directory / INDEX_FILE}: {exc}") from None
        self._index = index
        self._active_ef = 0

    def memory_bytes(self) -> int:
        m = self.build_params["M"]
        level0 = self.count * (self.dim * 4 + 2 * m * 4 + 4 + 8)
        upper = self.count // max(1, m) * (m * 4 + 4)  # about 1/M of nodes have upper layers
        return int(level0 + upper)
