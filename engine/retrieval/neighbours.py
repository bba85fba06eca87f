"""The history path's searches, done once at build time: every item's nearest items.

The history path looks up items similar to the user's last clicks: ten ANN searches per
request, a large share of stage 1's time (docs/benchmarks.md) and most of it with a remote or
embedded vector database. Those searches depend on the item alone, so `twostage
build` runs them for every item of the default backend, with the history path's own search
settings, and keeps the first `k` answers. A request then reads rows of this table instead
of searching: the same items in the same order, as long as it needs at most `k` per seed.

Saved as two `.npy` files with a manifest naming the data set, the backend, its build and
history-search settings and `k`; a table built for anything else is refused on load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.ann.base import AnnIndex, chunks
from engine.artifacts import load_array, read_manifest, save_array, write_manifest
from engine.errors import ArtifactError
from engine.progress import Progress, no_progress

KIND = "twostage.history-neighbours"
IDS, SCORES = "ids.npy", "scores.npy"


@dataclass(frozen=True)
class NeighbourTable:
    """Row i: item i's `k` nearest items (-1 pads where the index found fewer) and scores."""

    ids: np.ndarray
    scores: np.ndarray

    @property
    def k(self) -> int:
        return int(self.ids.shape[1])

    def rows(self, seeds: np.ndarray, per_seed: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The first `per_seed` neighbours of each seed, or None when the table keeps fewer."""
        if per_seed > self.k:
            return None
        return self.ids[seeds, :per_seed].astype(np.int64), self.scores[seeds, :per_seed]


def build_table(
    index: AnnIndex, vectors: np.ndarray, k: int, params: dict[str, int], progress: Progress = no_progress
) -> NeighbourTable:
    """Every item searched as the history path would search it (`params`), `k` answers kept."""
    k = min(k, index.count)
    ids = np.empty((len(vectors), k), dtype=np.int32)
    scores = np.empty((len(vectors), k), dtype=np.float32)
    for start, stop in chunks(len(vectors)):
        found = index.search(vectors[start:stop], k, params)
        ids[start:stop], scores[start:stop] = found.ids, found.scores
        progress("history neighbours", stop, len(vectors))
    return NeighbourTable(ids, scores)


def identity(index: AnnIndex, k: int, history_params: dict[str, int]) -> dict:
    """What a table depends on besides the data: recorded in its manifest, checked on load."""
    return {
        "backend": type(index).name,
        "k": k,
        "build_params": index.build_params,
        "history_params": history_params,
    }


def save(table: NeighbourTable, directory: Path, dataset: str, built_for: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_array(directory / IDS, table.ids)
    save_array(directory / SCORES, table.scores)
    write_manifest(directory, KIND, [IDS, SCORES], dataset=dataset, **built_for)


def is_current(directory: Path, dataset: str, built_for: dict) -> bool:
    """True when an intact table for this data and these settings is on disk."""
    try:
        manifest = read_manifest(directory, KIND)
    except ArtifactError:
        return False
    return manifest.get("dataset") == dataset and all(manifest.get(k) == v for k, v in built_for.items())


def load(directory: Path, dataset: str, built_for: dict, n_items: int) -> NeighbourTable | None:
    """The table, checked; None when none was built (the history path then searches)."""
    if not directory.exists():
        return None
    manifest = read_manifest(directory, KIND)
    stale = [key for key, value in built_for.items() if manifest.get(key) != value]
    if manifest.get("dataset") != dataset or stale:
        what = ", ".join(stale) or "the data set"
        raise ArtifactError(
            f"the history neighbours in {directory} were built for another {what}; rebuild them "
            f"with `twostage build --data-dir {directory.parents[1]}`"
        )
    ids = load_array(directory / IDS, dtype="int32", ndim=2, mmap=False)
    scores = load_array(directory / SCORES, dtype="float32", ndim=2, mmap=False)
    if ids.shape != scores.shape or len(ids) != n_items:
        raise ArtifactError(
            f"the history neighbours in {directory} have {len(ids)} rows for {n_items} items; "
            f"rebuild them with `twostage build --data-dir {directory.parents[1]}`"
        )
    return NeighbourTable(ids, scores)
