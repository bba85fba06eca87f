"""The one interface every ANN backend implements.

Build parameters go to the constructor, search parameters to `set_search_params`, so one
built index can be swept over many search settings (as in ann-benchmarks). The base class
validates every input once, so backends only translate to their library, and contract tests
(tests/ann/test_contract.py) run against every registered backend.

Similarity is the inner product; on L2-normalised vectors that is the cosine.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from engine.artifacts import read_manifest, write_manifest
from engine.errors import ArtifactError, InvalidRequestError
from engine.limits import MAX_SEARCH_PARAM
from engine.progress import Progress, no_progress

INDEX_KIND = "twostage.ann-index"
ADD_CHUNK = 20_000


@dataclass(frozen=True)
class SearchResult:
    """Row i holds the k best ids for query i, best first. Ids are -1 (score -inf) where a
    backend found fewer than k, which approximate indexes may do at weak settings."""

    ids: np.ndarray
    scores: np.ndarray


class AnnIndex(ABC):
    """Base of every backend; subclasses fill in the `_`-prefixed methods."""

    name: ClassVar[str]
    #: search parameter -> default; `set_search_params` accepts exactly these names.
    search_defaults: ClassVar[dict[str, int]] = {}
    #: lighter settings for the history path, whose ten small searches (a few dozen results
    #: each) need far less effort than the main one; unnamed parameters keep `search_params`.
    history_defaults: ClassVar[dict[str, int]] = {}
    #: False for indexes that are only a view of the data set's vectors (exact search):
    #: `twostage build` skips them and the engine builds them in memory on demand.
    needs_build: ClassVar[bool] = True
    #: the most results one query may ask for (None: the index's size); the API's document
    #: bounds this backend's candidate count by it
    max_results: ClassVar[int | None] = None

    def __init__(self, **build_params: Any) -> None:
        self.build_params: dict[str, Any] = build_params
        self.search_params: dict[str, int] = dict(self.search_defaults)
        self.dim = 0
        self.count = 0
        self.build_seconds = 0.0

    # ----------------------------------------------------------------- public API
    def build(self, vectors: np.ndarray, progress: Progress = no_progress) -> None:
        """Index `vectors` (n x d); row i gets id i."""
        data = as_float32_matrix(vectors, what="vectors to index")
        if data.shape[0] == 0:
            raise InvalidRequestError("cannot build an index from zero vectors")
        started = time.perf_counter_ns()
        self.dim, self.count = int(data.shape[1]), int(data.shape[0])
        self._build(data, progress)
        self.build_seconds = (time.perf_counter_ns() - started) / 1e9

    def set_search_params(self, **params: int) -> None:
        """Change the default search-time settings (efSearch, nprobe, ...) without rebuilding."""
        self.search_params = self._resolve(params)

    def search(self, queries: np.ndarray, k: int, params: dict[str, int] | None = None) -> SearchResult:
        """The k most similar indexed vectors for each query row (a 1-d query is one row).

        `params` overrides the search settings for this call only, so concurrent requests
        with different settings do not race on shared state.
        """
        if not self.count:
            raise InvalidRequestError(f"the {self.name} index is empty; build or load it first")
        matrix = as_float32_matrix(queries, what="query vector", dim=self.dim)
        check_k(k, self.count)
        ids, scores = self._search(matrix, int(k), self._resolve(params) if params else self.search_params)
        ids, scores = np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float32)
        if ids.shape[1] < k:  # some libraries return only what they found: pad as promised
            pad = ((0, 0), (0, int(k) - ids.shape[1]))
            ids = np.pad(ids, pad, constant_values=-1)
            scores = np.pad(scores, pad, constant_values=-np.inf)
        return SearchResult(ids, scores)

    def check_search_params(self, params: dict[str, int]) -> None:
        """Refuse unknown names or bad values up front: a request whose ANN path does not run
        (a user without a vector) still asked for them, and gets the same answer."""
        self._resolve(params)

    def _resolve(self, params: dict[str, int]) -> dict[str, int]:
        """`search_params` updated with `params`, after checking names and values."""
        for key, value in params.items():
            if key not in self.search_defaults:
                known = ", ".join(self.search_defaults) or "none"
                raise InvalidRequestError(
                    f"backend '{self.name}' has no search parameter '{key}'; it takes: {known}"
                )
            whole = not isinstance(value, bool) and isinstance(value, int | np.integer)
            if not whole or not 1 <= value <= MAX_SEARCH_PARAM:
                raise InvalidRequestError(
                    f"search parameter {key} must be a whole number from 1 to {MAX_SEARCH_PARAM}, "
                    f"got {value!r}"
                )
        return {**self.search_params, **{k: int(v) for k, v in params.items()}}

    def save(self, directory: Path, **meta: Any) -> None:
        """Write the library's own files, then the manifest (the commit point)."""
        if not self.count:
            raise InvalidRequestError(f"the {self.name} index is empty; nothing to save")
        directory.mkdir(parents=True, exist_ok=True)
        written = self._write(directory)
        write_manifest(
            directory,
            INDEX_KIND,
            list(written),
            backend=self.name,
            build_params=self.build_params,
            search_params=self.search_params,
            dim=self.dim,
            count=self.count,
            build_seconds=self.build_seconds,
            memory_bytes=self.memory_bytes(),
            **meta,
        )

    @classmethod
    def load(cls, directory: Path, *, expect: dict[str, Any] | None = None) -> AnnIndex:
        """Read an index saved by `save`; `expect` lists manifest values that must match."""
        manifest = read_manifest(directory, INDEX_KIND)
        if manifest.get("backend") != cls.name:
            raise ArtifactError(f"{directory} holds a '{manifest.get('backend')}' index, not '{cls.name}'")
        for key, value in (expect or {}).items():
            if manifest.get(key) != value:
                raise ArtifactError(
                    f"{directory}: the index was built with {key} = {manifest.get(key)!r}, "
                    f"but the data set has {value!r}; rebuild it with `twostage build --force`"
                )
        index = cls(**manifest["build_params"])
        index.dim, index.count = int(manifest["dim"]), int(manifest["count"])
        index.build_seconds = float(manifest.get("build_seconds", 0.0))
        index._read(directory)
        index.search_params = dict(cls.search_defaults)
        index.set_search_params(**manifest.get("search_params", {}))
        return index

    @classmethod
    def unreachable(cls, **build_params: Any) -> str | None:
        """Why the service this backend needs cannot be used with these build parameters (a
        server that does not answer), or None; libraries in this process need nothing."""
        return None

    def effective_params(self, params: dict[str, int], k: int) -> dict[str, int]:
        """The settings a search for k results really runs with: libraries whose candidate
        list must hold k results (hnswlib's ef, ScaNN's re-order count) raise it to k."""
        return params

    @abstractmethod
    def memory_bytes(self) -> int:
        """Approximate resident size of the index, from the library's data layout."""

    # ----------------------------------------------------------- backend hooks
    def library_search(
        self, queries: np.ndarray, k: int, params: dict[str, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The library's own call alone: no checks, no padding. For measuring what the
        wrapper costs (`twostage bench`); `queries` must be contiguous float32 rows."""
        return self._search(queries, k, params)

    @abstractmethod
    def _build(self, data: np.ndarray, progress: Progress) -> None: ...

    @abstractmethod
    def _search(self, queries: np.ndarray, k: int, params: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) per query row, best first; at most k columns (`search` pads the rest)."""

    @abstractmethod
    def _write(self, directory: Path) -> Sequence[str]:
        """Write the library's files atomically; return their paths relative to `directory`."""

    @abstractmethod
    def _read(self, directory: Path) -> None: ...


def as_float32_matrix(values: Any, *, what: str, dim: int | None = None) -> np.ndarray:
    """Contiguous float32 rows, or a clear error for a wrong shape, length or NaN."""
    try:
        matrix = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidRequestError(f"{what} must be numbers, got {type(values).__name__}") from None
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise InvalidRequestError(f"{what} must be a vector or a matrix of rows, got shape {matrix.shape}")
    if dim is not None and matrix.shape[1] != dim:
        raise InvalidRequestError(
            f"{what} has {matrix.shape[1]} dimensions but the index has {dim}; pass vectors of length {dim}"
        )
    if not np.isfinite(matrix).all():
        bad = np.argwhere(~np.isfinite(matrix))[0]
        raise InvalidRequestError(
            f"{what} contains NaN or infinity (row {bad[0]}, column {bad[1]}); pass finite values"
        )
    return np.ascontiguousarray(matrix)


def check_k(k: Any, count: int) -> None:
    """k must be a whole number in 1..count."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise InvalidRequestError(f"k must be a whole number, got {k!r}")
    if not 1 <= k <= count:
        raise InvalidRequestError(f"k must be between 1 and {count} (the number of indexed items), got {k}")


def chunks(total: int, size: int = ADD_CHUNK) -> list[tuple[int, int]]:
    """(start, stop) pairs for adding vectors in pieces, so builds can report progress."""
    return [(start, min(total, start + size)) for start in range(0, total, size)]
