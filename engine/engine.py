"""The Engine: opens a data directory and orchestrates stage 1 request by request.

It only resolves the request, calls each retrieval path and the merge, and times them;
the work itself lives in engine.retrieval and engine.ann.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.ann import AnnIndex, available, backend_class
from engine.ann.base import as_float32_matrix
from engine.config import EngineConfig
from engine.data import Dataset, load_dataset
from engine.errors import ArtifactError, InvalidRequestError
from engine.layout import Layout
from engine.requests import CandidateRequest, CandidateResult
from engine.retrieval import paths, trending
from engine.retrieval.merge import merge
from engine.retrieval.recall import recall_at_k
from engine.retrieval.types import Query
from engine.timing import StageTimer

DAY = 86_400
TOP_CATEGORY_HALF_LIFE_DAYS = 30.0


class Engine:
    """Thread-safe once open: indexes load lazily under a lock, requests share read-only data."""

    def __init__(
        self, layout: Layout, dataset: Dataset, trending_table: trending.Trending, config: EngineConfig
    ):
        self.layout = layout
        self.dataset = dataset
        self.catalog = dataset.catalog
        self.users = dataset.users
        self.trending = trending_table
        self.config = config
        self._indexes: dict[str, AnnIndex] = {}
        self._lock = threading.Lock()
        self._promoted = paths.Promoted.of(self.catalog)

    @classmethod
    def open(cls, data_dir: Path, config: EngineConfig | None = None) -> Engine:
        layout = Layout(Path(data_dir))
        dataset = load_dataset(layout.dataset)
        table = trending.load(layout.trending, dataset.fingerprint)
        return cls(layout, dataset, table, config or EngineConfig())

    # ------------------------------------------------------------------ indexes
    def index(self, backend: str) -> AnnIndex:
        """The built index of `backend`, loaded on first use and checked against the data."""
        cls = backend_class(backend)
        with self._lock:
            if backend not in self._indexes and not cls.needs_build:
                # Exact search needs no file: it searches the catalog's own vectors.
                view = cls()
                view.build(self.catalog.vectors)
                self._indexes[backend] = view
            if backend not in self._indexes:
                directory = self.layout.index(backend)
                if not directory.exists():
                    raise ArtifactError(
                        f"no '{backend}' index in {directory.parent}; build it with "
                        f"`twostage build --backends {backend} --data-dir {self.layout.root}`"
                    )
                index = cls.load(directory, expect={"dataset": self.dataset.fingerprint})
                # Search defaults come from the code and the configuration, not from whatever
                # settings the index happened to be saved with.
                index.set_search_params(**{**cls.search_defaults, **self.config.search.get(backend, {})})
                self._indexes[backend] = index
            return self._indexes[backend]

    def usable_backends(self) -> list[str]:
        """Backends this engine can search now: built on disk, or needing no build."""
        root = self.layout.root / "indexes"
        on_disk = (
            {p.name for p in root.iterdir() if (p / "manifest.json").exists()} if root.exists() else set()
        )
        return [name for name in available() if name in on_disk or not backend_class(name).needs_build]

    # ------------------------------------------------------------------ stage 1
    def candidates(self, request: CandidateRequest) -> CandidateResult:
        n = self._check_size(request.n_candidates)
        backend = request.backend or self.config.retrieval.backend
        index = self.index(backend)
        timer = StageTimer()
        with timer.stage("resolve"):
            query = self.resolve(request)
            cfg = self.config.retrieval
            history_size = math.ceil(cfg.history_share * n) if len(query.history) else 0
            promoted_size = math.ceil(cfg.promoted_share * n)
            trending_size = math.ceil(cfg.trending_share * n)
            if query.vector is None:  # cold start: trending fills what the ANN path would have
                trending_size = n - promoted_size
            ann_quota = max(1, n - history_size - promoted_size - trending_size)
        params = request.search_params or None
        history_params = self.config.history_search.get(backend) or None
        with timer.stage("ann"):
            ann = paths.ann_path(query, index, n, ann_quota, params)
        with timer.stage("history"):
            history = paths.history_path(
                query, index, self.catalog, cfg.history_items, history_size, history_params
            )
        with timer.stage("trending"):
            trend = paths.trending_path(query, self.trending, trending_size)
        with timer.stage("promoted"):
            promoted = paths.promoted_path(query, self._promoted, promoted_size)
        with timer.stage("merge"):
            seen = query.history if cfg.exclude_seen else None
            merged = merge([ann, history, trend, promoted], n, exclude=seen)
            if query.vector is not None:
                merged = replace(merged, similarity=self.catalog.vectors[merged.item_ids] @ query.vector)
        timer.add("retrieval", sum(timer.ns.values()))
        ann_k = min(n, index.count)
        recall = self.ann_recall(query.vector, ann.item_ids, ann_k) if request.measure_recall else None
        return CandidateResult(
            user_id=request.user_id,
            known_user=query.known_user,
            cold_start=not query.known_user,
            backend=backend,
            search_params={**index.search_params, **request.search_params},
            candidates=merged,
            ann_ids=ann.item_ids,
            ann_k=ann_k,
            timings_ns=timer.ns,
            recall=recall,
            notes=self._notes(request, query, n, len(merged)),
        )

    def resolve(self, request: CandidateRequest) -> Query:
        """Turn a request into a Query: whose vector, which history, which categories."""
        user_id = request.user_id
        if isinstance(user_id, bool) or not isinstance(user_id, int | np.integer):
            raise InvalidRequestError(f"user id must be a whole number, got {user_id!r}")
        known = self.users.knows(int(user_id))
        vector = None
        if request.query is not None:
            vector = as_float32_matrix(request.query, what="query vector", dim=self.catalog.dim)[0]
        elif known:
            vector = self.users.vectors[user_id]
        if not known:
            empty = np.zeros(0, dtype=np.int64)
            return Query(int(user_id), False, vector, empty, empty, np.zeros(0, dtype=np.float32))
        items, times = self.users.history(int(user_id))
        top, weights = self._top_categories(items, times)
        return Query(int(user_id), True, vector, items, top, weights)

    def ann_recall(self, vector: np.ndarray | None, found_ids: np.ndarray, k: int) -> float | None:
        """Recall@k of one ANN result against exact search; ids it did not return are misses."""
        if vector is None:
            return None
        truth = self.index("exact").search(vector, k)
        found = np.full((1, k), -1, dtype=np.int64)
        found[0, : min(k, len(found_ids))] = found_ids[:k]
        return float(recall_at_k(found, vector[None, :], self.catalog.vectors, truth.scores[:, -1])[0])

    # ------------------------------------------------------------------ helpers
    def _check_size(self, requested: int | None) -> int:
        n = self.config.retrieval.n_candidates if requested is None else requested
        limit = min(self.catalog.n_items, 100_000)
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= limit:
            raise InvalidRequestError(
                f"the number of candidates must be a whole number from 1 to {limit} "
                f"(the catalog has {self.catalog.n_items} items), got {n!r}"
            )
        return int(n)

    def _top_categories(self, items: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The user's strongest categories by recency-weighted history, and their shares."""
        if len(items) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        age_days = (self.dataset.now - times) / DAY
        weights = np.exp2(-np.maximum(age_days, 0) / TOP_CATEGORY_HALF_LIFE_DAYS)
        per_category = np.bincount(self.catalog.category[items], weights=weights)
        top = np.argsort(-per_category, kind="stable")[: self.config.retrieval.top_categories]
        top = top[per_category[top] > 0]
        return top.astype(np.int64), (per_category[top] / per_category.sum()).astype(np.float32)

    def _notes(self, request: CandidateRequest, query: Query, n: int, got: int) -> tuple[str, ...]:
        notes = []
        if not query.known_user:
            how = (
                "the query vector, trending and promoted"
                if query.vector is not None
                else "trending and promoted"
            )
            notes.append(f"user {request.user_id} is unknown: cold start from {how} items")
        elif len(query.history) == 0:
            notes.append(f"user {request.user_id} has no history: no history path")
        if got < n:
            notes.append(f"only {got} distinct candidates found of the {n} asked for")
        return tuple(notes)
