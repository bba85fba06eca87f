"""The Engine: opens a data directory and runs requests through both stages.

It only orchestrates and times: request -> retrieval paths -> merged candidates -> features
-> model -> rules -> response. The work lives in engine.retrieval, engine.features,
engine.ranking and engine.rules; the CLI, the app and the server are thin clients of this.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.ann import AnnIndex
from engine.artifact_cache import ArtifactCache
from engine.config import EngineConfig, config_from_environment
from engine.data import Dataset
from engine.embeddings import open_dataset
from engine.events import EARLIEST, LiveRows, LiveUser, check_event
from engine.explain import Explanation, explain, ranked_below
from engine.features import EventStore, FeatureContext, FeatureRows, feature_specs
from engine.kernels import gather_rows
from engine.layout import Layout, default_data_dir
from engine.limits import DAY, check_k, check_size, check_user_id
from engine.live_store import LiveStore, open_store
from engine.ranking.guard import ModelGuard, guarded_scores
from engine.ranking.model import Reranker
from engine.requests import CandidateRequest, CandidateResult, RecommendRequest, RecommendResponse
from engine.response import build_response, request_inputs
from engine.retrieval import paths, quotas, registry, resolve, trending
from engine.retrieval.merge import merge
from engine.retrieval.recall import ann_recall
from engine.retrieval.registry import PathInputs
from engine.retrieval.types import Query
from engine.rules import Ranked, apply_rules
from engine.runs import best_first
from engine.timing import StageTimer


class Engine:
    """Thread-safe once open: artifacts load lazily under a lock (engine.artifact_cache),
    requests share read-only data, and recorded events go through the live store.

    The clock is the data set's own present (`dataset.now`), or `as_of` for evaluating the
    past: history, features and trending then only see what happened before it.
    """

    def __init__(self, layout: Layout, dataset: Dataset, config: EngineConfig, *, as_of: int | None = None):
        self.layout = layout
        self.dataset = dataset
        self.catalog = dataset.catalog
        self.users = dataset.users
        self.config = config
        self.now = dataset.now if as_of is None else int(as_of)
        if as_of is None:
            self.trending = trending.load(layout.trending, dataset.fingerprint)
        else:
            self.trending = trending.compute(dataset, now=self.now)
        retrieval = config.retrieval
        self.store = EventStore(
            self.catalog,
            dataset.interactions,
            cooc_before=self.now,
            cooc_gap=retrieval.covisit_window_days * DAY,
            cooc_top=retrieval.covisit_neighbours,
        )
        self.popular = trending.popular(dataset, self.now, retrieval.popular_window_days)
        # An engine of the past (evaluation, training) never sees events recorded while serving.
        events = config.events.replace(store="memory") if as_of is not None else config.events
        self.live: LiveStore = open_store(
            events, layout.root, dataset.fingerprint, self.users.n_users, self.catalog.n_items
        )
        self._promoted = paths.Promoted.of(self.catalog)
        self.model_guard = ModelGuard(config.budget.model_ms, config.model.retry_after_s)
        self.features = feature_specs(dataset.attributes)
        self.feature_names = tuple(spec.name for spec in self.features)
        self.artifacts = ArtifactCache(layout, dataset, config, self.feature_names)

    @classmethod
    def open(cls, data_dir: Path, config: EngineConfig | None = None, *, as_of: int | None = None) -> Engine:
        layout = Layout(Path(data_dir))
        config = config or EngineConfig()
        return cls(layout, open_dataset(layout, config), config, as_of=as_of)

    @classmethod
    def from_environment(cls) -> Engine:
        """For worker processes: the data directory and configuration from the environment
        ($TWOSTAGE_DATA_DIR, $TWOSTAGE_CONFIG), loaded and warmed up."""
        engine = cls.open(default_data_dir(), config_from_environment())
        engine.warm_up()
        return engine

    # ---------------------------------------------------------------- artifacts
    def index(self, backend: str) -> AnnIndex:
        """The built index of `backend`, loaded on first use and checked against the data."""
        return self.artifacts.index(backend)

    def build_index(self, backend: str, reuse: AnnIndex | None = None) -> AnnIndex:
        return self.artifacts.build_index(backend, reuse)

    @property
    def reranker(self) -> Reranker:
        return self.artifacts.reranker

    def usable_backends(self) -> list[str]:
        return self.artifacts.usable_backends()

    def warm_up(self, backend: str | None = None) -> None:
        """Load what the first request would (index, model, count tables) and run one, so
        that measured requests show steady-state latency."""
        active = self.users.most_active(1)
        self.recommend(RecommendRequest(user_id=int(active[0]) if len(active) else 0, backend=backend))

    # ------------------------------------------------------------------ state
    def history(self, user_id: int, live: LiveUser | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The user's clicks up to now, oldest first, with those recorded live (`live`, read
        from the store when not given) at the end."""
        clicks = self.store.clicks_by_user
        window = clicks.between(user_id, EARLIEST, self.now + 1)
        items, times = clicks.payload[window], clicks.times[window]
        live = self.live.user_state(user_id) if live is None else live
        if len(live.clicks):
            items = np.concatenate((items, live.clicks))
            times = np.concatenate((times, np.full(len(live.clicks), self.now, dtype=times.dtype)))
        return items, times

    def live_user(self, user_id: int) -> LiveUser:
        """What a request reads of its user's live events, once (nothing for an unknown user)."""
        return self.live.user_state(user_id) if self.users.knows(user_id) else LiveUser.none()

    def seen(self, user_id: int, history: np.ndarray) -> np.ndarray:
        """What a request never proposes again: the user's clicks (`history`); in a log of
        consumptions (ratings, purchases: every imported data set) everything the user
        interacted with, liked or not."""
        if not self.dataset.consumption_log or not self.users.knows(user_id):
            return history
        index = self.store.impressions_by_user
        return np.concatenate((index.payload[index.between(user_id, EARLIEST, self.now + 1)], history))

    def _noting_live_problem(self, result: CandidateResult) -> CandidateResult:
        """`result`, noting that the live events could not be read (once the request's last
        read of them is done)."""
        problem = self.live.problem()
        return result if problem is None else replace(result, notes=(*result.notes, problem))

    def record_event(self, user_id: int, item_id: int, kind: str) -> None:
        """Record a click, purchase or impression now; the user's next request reflects it."""
        user, item, kind = check_event(user_id, item_id, kind, self.users.n_users, self.catalog.n_items)
        self.live.add(user, item, kind, self.now)

    # ---------------------------------------------------------------- stage 1
    def candidates(self, request: CandidateRequest) -> CandidateResult:
        return self._noting_live_problem(self._candidates(request)[0])

    def _candidates(self, request: CandidateRequest) -> tuple[CandidateResult, LiveUser]:
        """Stage 1, and the user's live state it read (in its timings) for the features."""
        cfg = self.config.retrieval
        n = check_size(request.n_candidates, cfg.n_candidates, self.catalog.n_items)
        backend = request.backend or cfg.backend
        index = self.index(backend)
        timer = StageTimer()
        with timer.stage("resolve"):
            user_id = check_user_id(request.user_id)
            active = quotas.check_paths(request.paths)
            live = self.live_user(user_id)
            query = self._query(request, user_id, live)
            sizes = quotas.path_sizes(
                cfg, n, active, has_vector=query.vector is not None, has_history=len(query.history) > 0
            )
        params = request.search_params or None
        if params:
            index.check_search_params(params)
        inputs = self._path_inputs(query, n, index, params)
        results = []
        for path in registry.REGISTRY:
            with timer.stage(path.name):
                results.append(path.find(inputs, sizes[path.name]))
        ann = next(result for result in results if result.name == "ann")  # its recall is measured
        with timer.stage("merge"):
            seen = self.seen(user_id, query.history) if cfg.exclude_seen else None
            merged = merge(results, n, exclude=seen)
            if query.vector is not None:
                vectors = gather_rows(self.catalog.vectors, merged.item_ids)
                merged = replace(merged, similarity=vectors @ query.vector, vectors=vectors)
        timer.add("retrieval", sum(timer.ns.values()))
        ann_k = min(n, index.count)
        recall = self.ann_recall(query.vector, ann.item_ids, ann_k) if request.measure_recall else None
        result = CandidateResult(
            user_id=request.user_id,
            known_user=query.known_user,
            cold_start=not query.known_user,
            backend=backend,
            search_params={**index.search_params, **request.search_params},
            candidates=merged,
            ann_ids=ann.item_ids,
            ann_k=ann_k,
            query_vector=query.vector,
            timings_ns=timer.ns,
            recall=recall,
            notes=resolve.notes(request, query, n, len(merged)),
        )
        return result, live

    def path_inputs(self, request: CandidateRequest) -> PathInputs:
        """What the retrieval paths read for `request` (its user resolved, nothing run): for
        running one path by hand, as the path contract tests do."""
        cfg = self.config.retrieval
        n = check_size(request.n_candidates, cfg.n_candidates, self.catalog.n_items)
        user_id = check_user_id(request.user_id)
        query = self._query(request, user_id, self.live_user(user_id))
        return self._path_inputs(
            query, n, self.index(request.backend or cfg.backend), request.search_params or None
        )

    def _query(self, request: CandidateRequest, user_id: int, live: LiveUser) -> Query:
        """Who the request retrieves for: the user's vector, history and top categories."""
        history = self.history(user_id, live) if self.users.knows(user_id) else None
        top = self.config.retrieval.top_categories
        return resolve.resolve(request, self.catalog, self.users, history, self.now, top)

    def _path_inputs(
        self, query: Query, n: int, index: AnnIndex, params: dict[str, int] | None
    ) -> PathInputs:
        return PathInputs(
            query=query,
            n=n,
            index=index,
            search_params=params,
            history_params=self.artifacts.history_params(index) or None,
            history_table=self.artifacts.history_table(index),
            catalog=self.catalog,
            cooc=self.store.cooc,
            popular=self.popular,
            trending=self.trending,
            promoted=self._promoted,
            config=self.config.retrieval,
        )

    def measure_recall(self, result: CandidateResult) -> float | None:
        """The ANN path's recall for an answered request (None for a cold start)."""
        return self.ann_recall(result.query_vector, result.ann_ids, result.ann_k)

    def ann_recall(self, vector: np.ndarray | None, found_ids: np.ndarray, k: int) -> float | None:
        """Recall@k of one ANN result against exact search; ids it did not return are misses."""
        return ann_recall(self.index("exact"), self.catalog.vectors, vector, found_ids, k)

    # ------------------------------------------------------------ both stages
    def recommend(self, request: RecommendRequest) -> RecommendResponse:
        started = time.perf_counter_ns()
        k = check_k(request.k, self.catalog.n_items)
        reranker = self.reranker
        # Recall needs an exact search: measured after the response, outside its timings.
        result, live = self._candidates(request.stage1(measure_recall=False))
        timer = StageTimer()
        timer.add("retrieval", result.timings_ns["retrieval"])
        with timer.stage("features"):
            inputs = request_inputs(request, result, self.now, len(self.catalog.category_names))
            rows = LiveRows(live, self.live.item_counts(result.candidates.item_ids))
            context = FeatureContext(inputs, self.catalog, self.users, self.store, rows)
            features = FeatureRows(context, self.features, reranker.read_columns)
        result = self._noting_live_problem(result)
        with timer.stage("model"):
            guard = self.model_guard if self.config.model.skip_over_budget else None
            scores, degraded = guarded_scores(reranker.predict, guard, features.model_input)
        with timer.stage("rules"):
            order = best_first(scores)
            ids = result.candidates.item_ids
            ranked = apply_rules(
                Ranked(ids[order], scores[order], rows=order), self.catalog, self.config.rules, k
            )
        response = build_response(
            request,
            result,
            scores,
            features,
            self.feature_names,
            ranked,
            self.catalog,
            self.config.budget,
            timer,
            started,
            degraded,
        )
        if request.measure_recall:
            recall = self.ann_recall(result.query_vector, result.ann_ids, result.ann_k)
            response = replace(response, candidates=replace(result, recall=recall))
        return response

    def explain(
        self, response: RecommendResponse, item_id: int, other_id: int | None = None, top: int | None = 8
    ) -> Explanation:
        """Why `item_id` scores above the request's mean candidate, or above `other_id`."""
        return explain(self.reranker, response, item_id, other_id, top)

    def explain_in_list(
        self, response: RecommendResponse, item_id: int
    ) -> tuple[Explanation, Explanation | None]:
        """What a reader of the list asks: why the item scores above the request's mean
        candidate, and, for a top-K item, why it ranks above the item just below it."""
        below = ranked_below(response, item_id)
        pair = None if below is None else self.explain(response, item_id, below)
        return self.explain(response, item_id), pair
