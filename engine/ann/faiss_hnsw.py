"""FAISS HNSW (IndexHNSWFlat): a graph index; efSearch trades recall for latency."""

from __future__ import annotations

from typing import ClassVar

import faiss
import numpy as np

from engine.ann import faiss_common
from engine.progress import Progress


class FaissHnswIndex(faiss_common.FaissIndex):
    """FAISS uses efSearch as given, so efSearch < k returns k results of lower recall."""

    name = "faiss-hnsw"
    search_defaults: ClassVar[dict[str, int]] = {"efSearch": 512}
    history_defaults: ClassVar[dict[str, int]] = {"efSearch": 64}

    def __init__(self, M: int = 32, efConstruction: int = 200) -> None:
        super().__init__(M=M, efConstruction=efConstruction)
        self._index: faiss.IndexHNSWFlat | None = None

    def _build(self, data: np.ndarray, progress: Progress) -> None:
        index = faiss.IndexHNSWFlat(self.dim, self.build_params["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.build_params["efConstruction"]
        faiss_common.add_in_chunks(index, data, f"index {self.name}", progress)
        self._index = index

    def _settings(self, params: dict[str, int]) -> faiss.SearchParameters:
        return faiss.SearchParametersHNSW(efSearch=params["efSearch"])

    def memory_bytes(self) -> int:
        hnsw = self._index.hnsw
        graph = hnsw.neighbors.size() * 4 + hnsw.offsets.size() * 8 + hnsw.levels.size() * 4
        return int(self._index.ntotal * self.dim * 4 + graph)
