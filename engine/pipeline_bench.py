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


@dataclass(frozen=True)
class StageStats:
    """Latency percentiles of one stage over a benchmark run, in milliseconds."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class BareComparison:
    """Mean milliseconds per request: engine stage against the bare library call."""

    ann_stage_ms: float
    ann_bare_ms: float
    model_stage_ms: float
    model_bare_ms: float

    @property
    def overhead(self) -> float:
        bare = self.ann_bare_ms + self.model_bare_ms
        return (self.ann_stage_ms + self.model_stage_ms) / bare - 1.0 if bare else float("nan")


@dataclass(frozen=True)
class PipelineBench:
    backend: str
    n_candidates: int
    n_features: int
    trees: int
    requests: int
    requests_per_second: float
    stages: dict[str, StageStats]
    bare: BareComparison
    ann_recall: float | None
    degraded_requests: int


def pipeline_bench(
    engine: Engine,
    n_requests: int,
    *,
    backend: str | None = None,
    n_candidates: int | None = None,
    recall_sample: int = 50,
    seed: int = 0,
    progress: Progress = no_progress,
) -> PipelineBench:
    """Random known users, one request at a time; recall and bare calls are measured after."""
    if n_requests < 1:
        raise InvalidRequestError(f"the number of requests must be at least 1, got {n_requests}")
    users = np.random.default_rng(seed).integers(0, engine.users.n_users, size=n_requests)
    requests = [RecommendRequest(int(u), n_candidates=n_candidates, backend=backend) for u in users]
    engine.warm_up(backend)
    for request in requests[:WARMUP]:
        engine.recommend(request)
    timings: dict[str, list[float]] = {}
    responses = []
    started = time.perf_counter_ns()
    for i, request in enumerate(requests):
        response = engine.recommend(request)
        for stage, ms in response.candidates.timings_ms().items():
            if stage != "retrieval":
                timings.setdefault(f"  {stage}", []).append(ms)
        for stage, ms in response.timings_ms.items():
            timings.setdefault(stage, []).append(ms)
        responses.append(response)
        if i % 50 == 49 or i == len(requests) - 1:
            progress("requests", i + 1, len(requests))
    elapsed = time.perf_counter_ns() - started
    order = ["retrieval", *[s for s in timings if s.startswith("  ")], "features", "model", "rules", "total"]
    first = responses[0].candidates
    recalls = [
        engine.ann_recall(r.candidates.query_vector, r.candidates.ann_ids, r.candidates.ann_k)
        for r in responses[:recall_sample]
    ]
    measured = [r for r in recalls if r is not None]
    return PipelineBench(
        backend=first.backend,
        n_candidates=len(first.candidates),
        n_features=responses[0].features.shape[1],
        trees=engine.reranker.trees,
        requests=n_requests,
        requests_per_second=n_requests / (elapsed / 1e9),
        stages={stage: _stats(timings[stage]) for stage in order if stage in timings},
        bare=_bare(engine, responses, timings),
        ann_recall=float(np.mean(measured)) if measured else None,
        degraded_requests=sum(1 for r in responses if r.degraded),
    )


def _bare(engine: Engine, responses: list, timings: dict[str, list[float]]) -> BareComparison:
    """The same ANN searches and predictions, called directly on the libraries' wrappers."""
    ann_ns, model_ns = [], []
    model = engine.reranker.model
    for response in responses:
        result = response.candidates
        index = engine.index(result.backend)
        if result.query_vector is not None:
            query = np.ascontiguousarray(result.query_vector[None, :], dtype=np.float32)
            params = {**index.search_params, **result.search_params}
            started = time.perf_counter_ns()
            index._search(query, result.ann_k, params)  # the library call alone, no validation
            ann_ns.append(time.perf_counter_ns() - started)
        started = time.perf_counter_ns()
        model.predict(response.features, thread_count=1)
        model_ns.append(time.perf_counter_ns() - started)
    return BareComparison(
        ann_stage_ms=float(np.mean(timings["  ann"])),
        ann_bare_ms=float(np.mean(ann_ns) / 1e6) if ann_ns else 0.0,
        model_stage_ms=float(np.mean(timings["model"])),
        model_bare_ms=float(np.mean(model_ns) / 1e6),
    )


def _stats(ms: list[float]) -> StageStats:
    values = np.asarray(ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return StageStats(float(p50), float(p95), float(p99), float(values.max()))
