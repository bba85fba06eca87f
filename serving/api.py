"""`twostage serve`: the JSON API (FastAPI), another thin client of Engine.

One request at a time runs the engine in a worker (a lock, its "turn"): requests side by side
in one interpreter would otherwise wait inside each other's stage timers for the GIL and the
cores, and the timings would show the server's contention as the engine's. The wait for the
turn is reported as its own figure, `queue_ms`, from the moment the request arrived. Scale
with `--workers` (processes, each with its own engine), not threads.
"""

import gc
import os
import threading
import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import BackgroundTasks, Body, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from engine.engine import Engine
from engine.errors import (
    ArtifactError,
    BackendUnavailableError,
    NotInResponseError,
    NotScoredError,
    TwostageError,
)
from engine.latency import QUEUE
from engine.live_store import EventStoreUnavailable
from engine.requests import RecommendResponse
from engine.retrieval.recall import RecallSampler
from engine.wire import encode, payload
from serving.api_models import (
    ERRORS,
    NOT_IN_RESPONSE,
    NOT_SCORED,
    EventOut,
    ExplanationOut,
    RecommendOut,
    api_models,
    to_request,
)
from serving.metrics import LocalMetrics, SharedMetrics, prometheus_text, summary

MAX_BODY_BYTES = 64 * 1024


class Arrival:
    """Pure ASGI middleware: stamps when a request arrived (its queue time starts there) and
    refuses an oversized body before anything reads it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["arrived_ns"] = time.perf_counter_ns()
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > MAX_BODY_BYTES:
                detail = f"request body over {MAX_BODY_BYTES} bytes"
                await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def status_of(error: TwostageError) -> int:
    """The HTTP status of an engine error (each is listed in the OpenAPI document)."""
    if isinstance(error, ArtifactError | BackendUnavailableError | EventStoreUnavailable):
        return 503
    if isinstance(error, NotInResponseError):
        return 404
    return 409 if isinstance(error, NotScoredError) else 400


def create_app(engine: Engine | None = None) -> FastAPI:
    """The API around `engine`, or around one opened from $TWOSTAGE_DATA_DIR / $TWOSTAGE_CONFIG."""
    if engine is None:
        engine = Engine.from_environment()
    events = engine.config.events
    metrics = SharedMetrics(events.store, engine.dataset.fingerprint) if events.shared else LocalMetrics()
    sampler = RecallSampler(engine.config.retrieval.recall_sample_rate)
    active_users = engine.users.most_active(100).tolist()
    app = FastAPI(
        title="twostage",
        version="0.1.0",
        description="Two-stage retrieval: ANN candidates, CatBoost re-ranking, rules, per-stage timings.",
    )

    app.add_middleware(Arrival)
    turn = threading.Lock()  # one request in the engine at a time (see the module docstring)

    models = api_models(engine)

    @app.exception_handler(TwostageError)
    async def engine_error(request: Request, error: TwostageError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=status_of(error))

    @app.post(
        "/recommend",
        summary="the top K items for a user, through both stages",
        responses={200: {"model": RecommendOut}, **ERRORS},
    )
    def recommend(
        body: Annotated[models.recommend, Body()], request: Request, after: BackgroundTasks
    ) -> Response:
        with turn:
            queue_ms = (time.perf_counter_ns() - request.state.arrived_ns) / 1e6
            response = engine.recommend(to_request(body))
            content = encode(payload(response, body.include, queue_ms))
        stages = {**response.timings_ms, **{v.stage: v.ms for v in response.verdicts}}
        metrics.add_request({**stages, QUEUE: queue_ms})  # a few microseconds: never waits for Redis
        if response.candidates.recall is None and sampler.wants():
            after.add_task(sample_recall, response)  # after the response: the client never waits
        return Response(content, media_type="application/json")

    def sample_recall(response: RecommendResponse) -> None:
        with turn:  # an exact search is engine work: it takes its turn like a request
            recall = engine.measure_recall(response.candidates)
        metrics.add_recall(sampler, recall)

    @app.post(
        "/explain",
        summary="why an item scored as it did, or why it ranks above another",
        response_model=ExplanationOut,
        responses={**ERRORS, **NOT_IN_RESPONSE, **NOT_SCORED},
    )
    def explain(body: Annotated[models.explain, Body()]) -> dict[str, Any]:
        with turn:
            response = engine.recommend(to_request(body))
            return asdict(engine.explain(response, body.item_id, body.other_id))

    @app.post(
        "/events",
        summary="record a click, purchase or impression",
        status_code=202,
        response_model=EventOut,
        responses=ERRORS,
    )
    def events(body: models.event) -> dict[str, Any]:
        engine.record_event(body.user_id, body.item_id, body.kind)
        metrics.add_event()
        return {"recorded": body.kind, "user_id": body.user_id, "item_id": body.item_id}

    @app.get("/health", summary="liveness and what is loaded")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "pid": os.getpid(),
            "events_store": engine.config.events.store,
            "items": engine.catalog.n_items,
            "users": engine.users.n_users,
            "categories": len(engine.catalog.category_names),
            "active_users": active_users,
            "backend": engine.config.retrieval.backend,
            "model_trees": engine.reranker.trees,
        }

    @app.get("/metrics", summary="per-stage latency percentiles, counts and sampled ANN recall")
    def metrics_json() -> dict[str, Any]:
        return summary(metrics, engine.config.budget.model_dump(), metrics.recall(sampler))

    @app.get(
        "/metrics/prometheus",
        summary="the same in Prometheus's text format",
        response_class=PlainTextResponse,
    )
    def metrics_prometheus() -> PlainTextResponse:
        report = summary(metrics, engine.config.budget.model_dump(), metrics.recall(sampler))
        return PlainTextResponse(prometheus_text(report), media_type="text/plain; version=0.0.4")

    # What is alive now lives as long as the server (the libraries, the compiled loops, the
    # artifacts: ~190,000 objects). Frozen, a full collection during a request walks only the
    # requests' own objects, not the server's (docs/benchmarks.md: a pause two orders of
    # magnitude shorter).
    gc.collect()
    gc.freeze()
    return app
