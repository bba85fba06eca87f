"""USearch: a compact single-header HNSW with SIMD distance kernels, saved as one file."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np
from usearch.index import Index

from engine.ann.base import AnnIndex, chunks
from engine.artifacts import atomic_write
from engine.errors import ArtifactError
from engine.progress import Progress

INDEX_FILE = "index.usearch"


class UsearchIndex(AnnIndex):
    """Like hnswlib, the search expansion lives on the index and is used as max(ef, k); a
    lock keeps a concurrent search from seeing another call's expansion."""

    name = "usearch"
    search_defaults: ClassVar[dict[str, int]] = {"ef": 600}
    history_defaults: ClassVar[dict[str, int]] = {"ef": 64}

    def __init__(self, M: int = 32, ef_construction: int = 200) -> None:
        super().__init__(M=M, ef_construction=ef_construction)
        self._index: Index | None = None
        self._lock = threading.Lock()

    def _new_index(self) -> Index:
        return Index(
            ndim=self.dim,
            metric="ip",
            dtype="f32",
            connectivity=self.build_params["M"],
            expansion_add=self.build_params["ef_construction"],
        )

    def _build(self, data: np.ndarray, progress: Progress) -> None:
        index = self._new_index()
        for start, stop in chunks(len(data)):
            index.add(np.arange(start, stop), data[start:stop], threads=os.cpu_count() or 1)
            progress(f"index {self.name}", stop, len(data))
        self._index = index

    def effective_params(self, params: dict[str, int], k: int) -> dict[str, int]:
        return {**params, "ef": max(params["ef"], k)}

    def _search(self, queries: np.ndarray, k: int, params: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            self._index.expansion_search = self.effective_params(params, k)["ef"]
            found = self._index.search(queries, k, threads=1)
        keys = np.asarray(found.keys, dtype=np.int64).reshape(len(queries), -1)
        distances = np.asarray(found.distances, dtype=np.float32).reshape(len(queries), -1)
        # One query comes back as Matches (only what was found), several as BatchMatches
        # (k columns, padded, with a count per row).
        counts = np.asarray(getattr(found, "counts", [keys.shape[1]])).reshape(len(queries))
        missing = np.arange(keys.shape[1])[None, :] >= counts[:, None]
        ids = np.where(missing, -1, keys)
        scores = np.where(missing, -np.inf, 1.0 - distances)  # "ip" distance is 1 - <q, x>
        return ids, scores

    def _write(self, directory: Path) -> tuple[str, ...]:
        atomic_write(directory / INDEX_FILE, lambda tmp: self._index.save(str(tmp)))
        return (INDEX_FILE,)

    def _read(self, directory: Path) -> None:
        index = self._new_index()
        try:
            index.load(str(directory / INDEX_FILE))
        except (RuntimeError, ValueError, OSError) as exc:
            raise ArtifactError(f"USearch cannot read {directory / INDEX_FILE}: {exc}") from None
        if len(index) != self.count:
            raise ArtifactError(
                f"{directory / INDEX_FILE} holds {len(index)} vectors, its manifest says {self.count}; "
                "rebuild it with `twostage build --force`"
            )
        self._index = index

    def memory_bytes(self) -> int:
        return int(self._index.memory_usage)
