"""The artifacts one engine serves from: ANN indexes and the re-ranker, each loaded on first
use under a lock, checked against the data set, and kept for the engine's life."""

from __future__ import annotations

import threading

from engine.ann import AnnIndex, backend_class, create, usable
from engine.config import EngineConfig
from engine.data import Dataset
from engine.errors import ArtifactError
from engine.layout import Layout
from engine.ranking.model import Reranker
from engine.retrieval import neighbours
from engine.retrieval.neighbours import NeighbourTable


def history_params(config: EngineConfig, cls: type[AnnIndex]) -> dict[str, int]:
    """The history path's lighter search settings for a backend: its own, then the config's."""
    return {**cls.history_defaults, **config.history_search.get(cls.name, {})}


class ArtifactCache:
    def __init__(
        self, layout: Layout, dataset: Dataset, config: EngineConfig, feature_names: tuple[str, ...]
    ):
        self.layout, self.dataset, self.config = layout, dataset, config
        self.feature_names = feature_names
        self._indexes: dict[str, AnnIndex] = {}
        self._reranker: Reranker | None = None
        self._tables: dict[str, NeighbourTable | None] = {}
        self._lock = threading.Lock()

    def index(self, backend: str) -> AnnIndex:
        """The built index of `backend`, with the search defaults of the code and the
        configuration (not whatever settings the index happened to be saved with)."""
        cls = backend_class(backend)
        with self._lock:
            if backend not in self._indexes and not cls.needs_build:
                # Exact search needs no file: it searches the catalog's own vectors.
                view = cls()
                view.build(self.dataset.catalog.vectors)
                self._indexes[backend] = view
            if backend not in self._indexes:
                directory = self.layout.index(backend)
                if not directory.exists():
                    raise ArtifactError(
                        f"no '{backend}' index in {directory.parent}; build it with "
                        f"`twostage build --backends {backend} --data-dir {self.layout.root}`"
                    )
                index = cls.load(directory, expect={"dataset": self.dataset.fingerprint})
                self._set_search_defaults(index)
                self._indexes[backend] = index
            return self._indexes[backend]

    def build_index(self, backend: str, reuse: AnnIndex | None = None) -> AnnIndex:
        """Build `backend` over the data set's vectors in memory, unsaved: for an engine of
        the past (training), whose vectors were fitted before a window and have no index.
        `reuse`: an index another window built over the very same vectors (content vectors
        do not change with the cut-off), taken as it is."""
        if reuse is None:
            index = create(backend, **self.config.build.get(backend, {}))
            index.build(self.dataset.catalog.vectors)
        else:
            index = reuse
        self._set_search_defaults(index)
        with self._lock:
            self._indexes[backend] = index
            self._tables[backend] = None  # built for this engine alone: its history path searches
        return index

    def _set_search_defaults(self, index: AnnIndex) -> None:
        cls = type(index)
        index.set_search_params(**{**cls.search_defaults, **self.config.search.get(cls.name, {})})

    def history_params(self, index: AnnIndex) -> dict[str, int]:
        return history_params(self.config, type(index))

    def history_table(self, index: AnnIndex) -> NeighbourTable | None:
        """The history path's precomputed neighbours for this index, if `build` made them."""
        name = type(index).name
        with self._lock:
            if name not in self._tables:
                k = self.config.retrieval.history_table
                built_for = neighbours.identity(index, k, self.history_params(index))
                table = None
                if k and index.needs_build:
                    directory = self.layout.history_neighbours(name)
                    table = neighbours.load(directory, self.dataset.fingerprint, built_for, index.count)
                self._tables[name] = table
            return self._tables[name]

    @property
    def reranker(self) -> Reranker:
        """The trained model; refuses one trained on other features or another data set."""
        with self._lock:
            if self._reranker is None:
                if not self.layout.model.exists():
                    raise ArtifactError(
                        f"no re-ranker in {self.layout.model}; train it with "
                        f"`twostage build --data-dir {self.layout.root}`"
                    )
                self._reranker = Reranker.load(
                    self.layout.model,
                    features=list(self.feature_names),
                    dataset=self.dataset.fingerprint,
                )
            return self._reranker

    def usable_backends(self) -> list[str]:
        """Backends that can be searched now: built on disk, or needing no build."""
        return usable(self.layout.index)
