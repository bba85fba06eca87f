"""Request -> feature inputs, and scored, rule-applied arrays -> the response a client reads."""

from __future__ import annotations

import time
from itertools import compress

import numpy as np

from engine.config import BudgetConfig
from engine.data import Catalog
from engine.features import FeatureInputs, FeatureRows
from engine.limits import check_context
from engine.requests import CandidateResult, RankedItem, RecommendRequest, RecommendResponse, StageVerdict
from engine.rules import Ranked, effects_of
from engine.timing import StageTimer


def request_inputs(
    request: RecommendRequest, result: CandidateResult, now: int, n_categories: int
) -> FeatureInputs:
    """One group: the request's candidates, as of now (inclusive of events recorded now)."""
    context = request.context
    check_context(context.category, context.hour, n_categories)
    cands = result.candidates
    n = len(cands)
    user = result.user_id if result.known_user else -1
    query_sim = cands.similarity if request.query is not None else np.full(n, np.nan, dtype=np.float32)
    return FeatureInputs(
        user=np.full(n, user, dtype=np.int64),
        item=cands.item_ids,
        end=np.full(n, now + 1, dtype=np.int64),
        group=np.zeros(n, dtype=np.int64),
        query_sim=query_sim,
        context_category=np.full(n, -1 if context.category is None else context.category, dtype=np.int64),
        hour=np.full(n, np.nan if context.hour is None else context.hour, dtype=np.float32),
        path_ranks=cands.path_ranks,
        item_vectors=cands.vectors,
        one_request=True,
    )


def build_response(
    request: RecommendRequest,
    result: CandidateResult,
    scores: np.ndarray,
    features: FeatureRows,
    feature_names: tuple[str, ...],
    ranked: Ranked,
    catalog: Catalog,
    budget: BudgetConfig,
    timer: StageTimer,
    started_ns: int,
    degraded: tuple[str, ...],
) -> RecommendResponse:
    cands = result.candidates
    k = min(request.k, len(ranked.item_ids))
    by_item: dict[int, list[str]] = {}
    for effect in effects_of(ranked.changes, among=ranked.item_ids[:k]):
        by_item.setdefault(effect.item_id, []).append(f"{effect.rule}: {effect.action} ({effect.detail})")
    top, rows = ranked.item_ids[:k], ranked.rows[:k]  # each final item's row in the candidate set
    found = (cands.path_ranks[rows] >= 0).tolist()
    items = [
        RankedItem(
            item_id=item,
            title=catalog.titles[item],
            category=catalog.category_names[category],
            score=score,
            rank_before=row + 1,
            rank_after=position + 1,
            rank_change=row - position,
            found_by=tuple(compress(cands.path_names, paths)),
            rules=tuple(by_item.get(item, ())),
        )
        for position, (item, row, category, score, paths) in enumerate(
            zip(
                top.tolist(),
                rows.tolist(),
                catalog.category[top].tolist(),
                ranked.scores[:k].tolist(),
                found,
                strict=True,
            )
        )
    ]
    timer.add("total", time.perf_counter_ns() - started_ns)
    ms = {stage: ns / 1e6 for stage, ns in timer.ns.items()}
    spent = {**ms, "buffer": ms["total"] - ms["retrieval"] - ms["features"] - ms["model"]}
    verdicts = tuple(StageVerdict(stage, spent[stage], limit) for stage, limit in budget.stages().items())
    notes = result.notes
    if k < request.k:
        notes = (*notes, f"only {k} items after the rules, fewer than the {request.k} asked for")
    return RecommendResponse(
        user_id=result.user_id,
        k=request.k,
        items=tuple(items),
        candidates=result,
        scores=scores,
        feature_rows=features,
        feature_names=feature_names,
        rule_changes=ranked.changes,
        timings_ms=ms,
        verdicts=verdicts,
        degraded=degraded,
        notes=notes,
    )
