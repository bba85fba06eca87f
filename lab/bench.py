"""`twostage bench`: the request path's per-stage latency over many sequential requests on one
thread, and how it compares with the bare library calls it makes.

The bare calls are timed alone on the same inputs: the ANN backend's search for the same
query and k, and CatBoost's predict on the same feature matrix. "Overhead" is the engine's
time for those two stages over the bare time: what the wrappers, validation and timing cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.engine import Engine
from engine.errors import InvalidRequestError
from engine.progress import Progress, no_progress
from engine.requests import RecommendRequest

WARMUP = 5
BARE_SAMPLE = 200


@dataclass(frozen=True)
class StageStats:
    """Latency percentiles of one stage over a benchmark run, in milliseconds."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class BareComparison:
    """Median milliseconds per request: each engine stage against its library call alone."""

    ann_stage_ms: float
    ann_bare_ms: float
    model_stage_ms: float
    model_bare_ms: float

    @property
    def overhead(self) -> float:
        bare = self.ann_bare_ms + self.model_bare_ms
        return (self.ann_stage_ms + self.model_stage_ms) / bare - 1.0 if bare else float("nan")

    @property
    def library_ms(self) -> float:
        """The two library calls of a request, what an engine that did nothing else would take."""
        return self.ann_bare_ms + self.model_bare_ms


@dataclass(frozen=True)
class PipelineBench:
    backend: str
    n_candidates: int
    n_features: int
    trees: int
    requests: int
    requests_per_second: float
    #: every stage measured, in order; those named in `retrieval_parts` are steps of retrieval
    stages: dict[str, StageStats]
    retrieval_parts: tuple[str, ...]
    bare: BareComparison
    ann_recall: float | None
    degraded_requests: int
    live_events: int
    events_store: str
    idle_ms: float = 0.0


def pipeline_bench(
    engine: Engine,
    n_requests: int,
    *,
    backend: str | None = None,
    n_candidates: int | None = None,
    recall_sample: int = 50,
    live_events: int = 0,
    idle_ms: float = 0.0,
    seed: int = 0,
    progress: Progress = no_progress,
) -> PipelineBench:
    """Random known users, one request at a time; recall and bare calls are measured after.
    With `live_events`, that many clicks of the same users are recorded first (untimed), so
    the features read live state from the engine's event store as they would in service.
    With `idle_ms`, the engine idles that long before each request, as at low traffic: a
    request after an idle spell meets colder caches and a CPU that has gone to sleep."""
    if n_requests < 1 or live_events < 0:
        raise InvalidRequestError(
            f"the number of requests must be at least 1 and of live events at least 0, got {n_requests}, "
            f"{live_events}"
        )
    if not idle_ms >= 0:
        raise InvalidRequestError(f"the idle time before each request must be at least 0 ms, got {idle_ms}")
    rng = np.random.default_rng(seed)
    users = rng.integers(0, engine.users.n_users, size=n_requests)
    for i in range(live_events):
        engine.record_event(int(users[i % n_requests]), int(rng.integers(0, engine.catalog.n_items)), "click")
    requests = [RecommendRequest(int(u), n_candidates=n_candidates, backend=backend) for u in users]
    engine.warm_up(backend)
    for request in requests[:WARMUP]:
        engine.recommend(request)
    timings: dict[str, list[float]] = {}
    retrieval_parts: dict[str, None] = {}  # stage-1 steps, in the order they ran
    degraded = 0
    idle_ns = 0
    started = time.perf_counter_ns()
    for i, request in enumerate(requests):
        if idle_ms:
            idle_started = time.perf_counter_ns()
            time.sleep(idle_ms / 1000)
            idle_ns += time.perf_counter_ns() - idle_started
        response = engine.recommend(request)  # not kept: holding responses would slow the next ones
        for stage, ms in response.candidates.timings_ms().items():
            if stage != "retrieval":
                timings.setdefault(stage, []).append(ms)
                retrieval_parts.setdefault(stage, None)
        for stage, ms in response.timings_ms.items():
            timings.setdefault(stage, []).append(ms)
        degraded += bool(response.degraded)
        if i % 50 == 49 or i == len(requests) - 1:
            progress("requests", i + 1, len(requests))
    elapsed = time.perf_counter_ns() - started - idle_ns  # requests per second of engine work
    order = ["retrieval", *retrieval_parts, "features", "model", "rules", "total"]
    bare, recall, first = _bare_pass(engine, requests[:BARE_SAMPLE], recall_sample)
    return PipelineBench(
        backend=first.candidates.backend,
        n_candidates=len(first.candidates.candidates),
        n_features=len(first.feature_names),
        trees=engine.reranker.trees,
        requests=n_requests,
        requests_per_second=n_requests / (elapsed / 1e9),
        stages={stage: _stats(timings[stage]) for stage in order if stage in timings},
        retrieval_parts=tuple(retrieval_parts),
        bare=bare,
        ann_recall=recall,
        degraded_requests=degraded,
        live_events=len(engine.live),
        events_store=engine.config.events.store,
        idle_ms=idle_ms,
    )


def _bare_pass(engine: Engine, requests: list[RecommendRequest], recall_sample: int):
    """Each request again, keeping its ANN search's and its model's inputs; then those inputs
    through the two library calls alone, request by request (the search, then the predict),
    as the thinnest engine would make them. Also the ANN path's recall for the first
    `recall_sample` requests.

    Calling the library right after its own stage would time a search whose inverted lists
    that stage has just read into the cache, faster than the same search among other
    requests, which is what a bare engine would run."""
    ann_stage, model_stage, inputs, recalls = [], [], [], []
    response = None
    for i, request in enumerate(requests):
        response = engine.recommend(request)
        result = response.candidates
        search = None  # the ANN stage's call: index, query row, k, search settings
        if result.query_vector is not None:
            index = engine.index(result.backend)
            vector = np.ascontiguousarray(result.query_vector[None, :], dtype=np.float32)
            search = (index, vector, result.ann_k, {**index.search_params, **result.search_params})
            ann_stage.append(result.timings_ns["ann"])
        inputs.append((search, response.feature_rows.model_input))  # what the model stage scored
        model_stage.append(response.timings_ms["model"] * 1e6)
        if i < recall_sample:
            recalls.append(engine.ann_recall(result.query_vector, result.ann_ids, result.ann_k))
    ann_bare, model_bare = [], []
    model = engine.reranker.model
    for search, matrix in inputs:
        if search is not None:
            index, vector, k, params = search
            started = time.perf_counter_ns()
            index.library_search(vector, k, params)
            ann_bare.append(time.perf_counter_ns() - started)
        started = time.perf_counter_ns()
        model.predict(matrix, thread_count=1)
        model_bare.append(time.perf_counter_ns() - started)
    measured = [r for r in recalls if r is not None]
    bare = BareComparison(
        ann_stage_ms=float(np.median(ann_stage) / 1e6) if ann_stage else 0.0,
        ann_bare_ms=float(np.median(ann_bare) / 1e6) if ann_bare else 0.0,
        model_stage_ms=float(np.median(model_stage) / 1e6),
        model_bare_ms=float(np.median(model_bare) / 1e6),
    )
    return bare, (float(np.mean(measured)) if measured else None), response


def _stats(ms: list[float]) -> StageStats:
    values = np.asarray(ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return StageStats(float(p50), float(p95), float(p99), float(values.max()))
