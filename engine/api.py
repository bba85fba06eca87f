"""`twostage serve`: the engine as a JSON API (FastAPI), another thin client of Engine.

Endpoints are plain functions, so FastAPI runs them in its thread pool; the engine is safe to
call from several threads. CPU-bound requests share one interpreter, so scale with
`--workers` (processes, each with its own engine) rather than threads.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from engine.engine import Engine
from engine.errors import ArtifactError, BackendUnavailableError, TwostageError
from engine.live_store import EventStoreUnavailable
from engine.metrics import LocalMetrics, SharedMetrics, prometheus_text, summary
from engine.requests import Context, RecommendRequest, RecommendResponse
from engine.retrieval.recall import RecallSampler

MAX_BODY_BYTES = 64 * 1024


class ContextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: int | None = Field(None, ge=0, description="category code being browsed")
    hour: float | None = Field(None, ge=0, lt=24, description="hour of day")


class RecommendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: int = Field(description="user id; unknown ids get a cold start")
    k: int = Field(10, ge=1, le=1000)
    n_candidates: int | None = Field(None, ge=1, le=100_000)
    backend: str | None = None
    search_params: dict[str, int] = Field(default_factory=dict)
    context: ContextIn = Field(default_factory=ContextIn)
    measure_recall: bool = False

    def to_request(self) -> RecommendRequest:
        return RecommendRequest(
            user_id=self.user_id,
            k=self.k,
            n_candidates=self.n_candidates,
            backend=self.backend,
            search_params=self.search_params,
            context=Context(category=self.context.category, hour=self.context.hour),
            measure_recall=self.measure_recall,
        )


class ExplainIn(RecommendIn):
    item_id: int = Field(ge=0, description="an item of this request's response")
    other_id: int | None = Field(None, ge=0, description="explain why item_id ranks above this one")


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: int = Field(ge=0)
    item_id: int = Field(ge=0)
    kind: str = Field(pattern="^(impression|click|purchase)$")


def response_json(response: RecommendResponse) -> dict[str, Any]:
    result = response.candidates
    return {
        "user_id": response.user_id,
        "cold_start": result.cold_start,
        "backend": result.backend,
        "n_candidates": len(result.candidates),
        "items": [asdict(item) for item in response.items],
        "rule_effects": [asdict(effect) for effect in response.effects],
        "timings_ms": response.timings_ms,
        "verdicts": [{**asdict(v), "ok": v.ok} for v in response.verdicts],
        "degraded": list(response.degraded),
        "notes": list(response.notes),
        "ann_recall": result.recall,
    }


def create_app(engine: Engine | None = None) -> FastAPI:
    """The API around `engine`, or around one opened from $TWOSTAGE_DATA_DIR / $TWOSTAGE_CONFIG."""
    if engine is None:
        engine = Engine.from_environment()
    events = engine.config.events
    metrics = SharedMetrics(events.store, engine.dataset.fingerprint) if events.shared else LocalMetrics()
    sampler = RecallSampler(engine.config.retrieval.recall_sample_rate)
    active_users = engine.active_users(100).tolist()
    app = FastAPI(
        title="twostage",
        version="0.1.0",
        description="Two-stage retrieval: ANN candidates, CatBoost re-ranking, rules, per-stage timings.",
    )

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(TwostageError)
    async def engine_error(request: Request, error: TwostageError) -> JSONResponse:
        unavailable = ArtifactError | BackendUnavailableError | EventStoreUnavailable
        status = 503 if isinstance(error, unavailable) else 400
        return JSONResponse({"detail": str(error)}, status_code=status)

    @app.post("/recommend", summary="the top K items for a user, through both stages")
    def recommend(body: RecommendIn, after: BackgroundTasks) -> dict[str, Any]:
        response = engine.recommend(body.to_request())
        # Both run after the response is sent: the client never waits for them.
        after.add_task(
            metrics.add_request, {**response.timings_ms, **{v.stage: v.ms for v in response.verdicts}}
        )
        if response.candidates.recall is None and sampler.wants():
            after.add_task(lambda: metrics.add_recall(sampler, engine.measure_recall(response.candidates)))
        return response_json(response)

    @app.post("/explain", summary="why an item scored as it did, or why it ranks above another")
    def explain(body: ExplainIn) -> dict[str, Any]:
        response = engine.recommend(body.to_request())
        return asdict(engine.explain(response, body.item_id, body.other_id))

    @app.post("/events", summary="record a click, purchase or impression", status_code=202)
    def events(body: EventIn) -> dict[str, Any]:
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
        return summary(metrics, asdict(engine.config.budget), metrics.recall(sampler))

    @app.get(
        "/metrics/prometheus",
        summary="the same in Prometheus's text format",
        response_class=PlainTextResponse,
    )
    def metrics_prometheus() -> PlainTextResponse:
        report = summary(metrics, asdict(engine.config.budget), metrics.recall(sampler))
        return PlainTextResponse(prometheus_text(report), media_type="text/plain; version=0.0.4")

    return app
