"""What a response becomes on the wire, for the HTTP API and `recommend --json`: one shape, and
only what the client asks for. The top K with scores by default; `include` adds the rest, so
a load test or a service pays for no more JSON than it reads."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from typing import Any

import numpy as np
import orjson

from engine.funnel import funnel
from engine.requests import RecommendRequest, RecommendResponse

#: what `include` may name, and what each adds
INCLUDE = {
    "details": "each item's title, category, ranks before and after, paths and rules; backend, search "
    "parameters, candidate count and ANN recall",
    "timings": "per-stage timings, budget verdicts and (served) the time spent queued for the engine",
    "rules": "what each business rule changed",
    "candidates": "the stage-1 candidates in order, with the model's score and the paths that found each",
    "features": "the feature rows of the returned items",
    "funnel": "how many items each step of the request kept, and the time it took",
}


def check_include(include: Collection[str]) -> None:
    unknown = sorted(set(include) - set(INCLUDE))
    if unknown:
        raise ValueError(f"include: unknown {', '.join(unknown)}; choose from {', '.join(INCLUDE)}")


def payload(
    response: RecommendResponse, include: Collection[str] = (), queue_ms: float | None = None
) -> dict[str, Any]:
    """The response as plain data (numpy arrays stay arrays: `encode` writes them directly)."""
    check_include(include)
    result = response.candidates
    body: dict[str, Any] = {"user_id": response.user_id, "cold_start": result.cold_start}
    if "details" in include:
        body.update(
            known_user=result.known_user,
            backend=result.backend,
            search_params=result.search_params,
            n_candidates=len(result.candidates),
            ann_recall=result.recall,
            items=[asdict(item) for item in response.items],
        )
    else:
        body["items"] = [{"item_id": item.item_id, "score": item.score} for item in response.items]
    if "timings" in include:
        body["timings_ms"] = response.timings_ms
        body["retrieval_timings_ms"] = result.timings_ms()
        body["verdicts"] = [{**asdict(v), "ok": v.ok} for v in response.verdicts]
        if queue_ms is not None:
            body["queue_ms"] = queue_ms
    if "rules" in include:
        body["rule_effects"] = [asdict(effect) for effect in response.effects]
    if "candidates" in include:
        candidates = result.candidates
        body["candidates"] = {
            "item_ids": candidates.item_ids,
            "model_scores": response.scores,
            "paths": list(candidates.path_names),
            "path_ranks": candidates.path_ranks,
        }
    if "features" in include:
        rows = _rows_of(result.candidates.item_ids, [item.item_id for item in response.items])
        body["features"] = {"names": list(response.feature_names), "rows": response.features[rows]}
    if "funnel" in include:
        body["funnel"] = [asdict(step) for step in funnel(response)]
    body["degraded"] = list(response.degraded)
    body["notes"] = list(response.notes)
    return body


def request_body(request: RecommendRequest, include: Collection[str] = ()) -> dict[str, Any]:
    """The JSON body that asks a server for `request`: only what differs from the defaults,
    as the API's strict models expect it."""
    check_include(include)
    body: dict[str, Any] = {"user_id": request.user_id, "k": request.k}
    context = {"category": request.context.category, "hour": request.context.hour}
    optional = {
        "n_candidates": request.n_candidates,
        "backend": request.backend,
        "search_params": dict(request.search_params) or None,
        "context": {key: value for key, value in context.items() if value is not None} or None,
        "measure_recall": request.measure_recall or None,
        "include": list(include) or None,
    }
    return body | {key: value for key, value in optional.items() if value is not None}


def encode(body: dict[str, Any]) -> bytes:
    """JSON bytes with orjson: numpy arrays and floats written by Rust, not a Python loop."""
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def _rows_of(candidate_ids: np.ndarray, item_ids: list[int]) -> np.ndarray:
    order = np.argsort(candidate_ids, kind="stable")
    return order[np.searchsorted(candidate_ids, item_ids, sorter=order)]
