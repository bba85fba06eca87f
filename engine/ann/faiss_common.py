"""What the FAISS backends share: thread control, search, save and load in FAISS's format."""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from engine.ann.base import AnnIndex, chunks
from engine.artifacts import atomic_write
from engine.errors import ArtifactError
from engine.progress import Progress

INDEX_FILE = "index.faiss"


def single_thread() -> None:
    """One OpenMP thread for this calling thread (OpenMP settings are per thread)."""
    faiss.omp_set_num_threads(1)


@contextmanager
def all_threads() -> Iterator[None]:
    """Builds are offline work: use every core, then go back to one thread."""
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        single_thread()


def add_in_chunks(index: faiss.Index, data: np.ndarray, step: str, progress: Progress) -> None:
    """Add with every core and report progress per chunk."""
    with all_threads():
        for start, stop in chunks(len(data)):
            index.add(data[start:stop])
            progress(step, stop, len(data))


def write_index(index: faiss.Index, directory: Path) -> None:
    atomic_write(directory / INDEX_FILE, lambda tmp: faiss.write_index(index, str(tmp)))


def read_index(directory: Path) -> faiss.Index:
    try:
        return faiss.read_index(str(directory / INDEX_FILE))
    except RuntimeError as exc:  # the manifest check makes this rare
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown error"
        raise ArtifactError(f"FAISS cannot read {directory / INDEX_FILE}: {first_line}") from None


class FaissIndex(AnnIndex):
    """Base of the FAISS backends: each supplies `_build` and its per-call search settings."""

    _index: faiss.Index

    @abstractmethod
    def _settings(self, params: dict[str, int]) -> faiss.SearchParameters:
        """FAISS search parameters for one call (per call, so concurrent requests do not race)."""

    def _search(self, queries: np.ndarray, k: int, params: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        single_thread()
        scores, ids = self._index.search(queries, k, params=self._settings(params))
        return ids, scores

    def _write(self, directory: Path) -> tuple[str, ...]:
        write_index(self._index, directory)
        return (INDEX_FILE,)

    def _read(self, directory: Path) -> None:
        self._index = read_index(directory)
