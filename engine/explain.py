"""Why an item scored as it did (CatBoost SHAP values), and why one item ranks above another."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidRequestError
from engine.features import FEATURES
from engine.ranking.model import Reranker
from engine.requests import RecommendResponse

DESCRIPTIONS = {spec.name: spec.description for spec in FEATURES}


@dataclass(frozen=True)
class Contribution:
    feature: str
    description: str
    value: float
    other_value: float | None
    contribution: float  # SHAP value, or the difference of two items' SHAP values


@dataclass(frozen=True)
class Explanation:
    """`contributions` explain `item_id`'s score (base + sum = score). With `other_id`, they
    explain the score difference instead: positive values pushed `item_id` above it."""

    item_id: int
    score: float
    base: float
    other_id: int | None
    other_score: float | None
    contributions: tuple[Contribution, ...]


def explain(
    reranker: Reranker,
    response: RecommendResponse,
    item_id: int,
    other_id: int | None = None,
    top: int = 8,
) -> Explanation:
    if not response.model_scored:
        raise InvalidRequestError(
            f"this response has no model scores to explain ({'; '.join(response.degraded)})"
        )
    rows = [_row(response, item_id)] + ([] if other_id is None else [_row(response, other_id)])
    shap = reranker.shap(response.features[rows])
    names = reranker.feature_names
    values = response.features[rows]
    if other_id is None:
        effect, other_values = shap[0, :-1], None
    else:
        effect, other_values = shap[0, :-1] - shap[1, :-1], values[1]
    order = np.argsort(-np.abs(effect))[:top]
    contributions = tuple(
        Contribution(
            feature=names[j],
            description=DESCRIPTIONS.get(names[j], ""),
            value=float(values[0, j]),
            other_value=None if other_values is None else float(other_values[j]),
            contribution=float(effect[j]),
        )
        for j in order
    )
    scores = response.scores[rows]
    return Explanation(
        item_id=item_id,
        score=float(scores[0]),
        base=float(shap[0, -1]),
        other_id=other_id,
        other_score=None if other_id is None else float(scores[1]),
        contributions=contributions,
    )


def _row(response: RecommendResponse, item_id: int) -> int:
    found = np.flatnonzero(response.candidates.candidates.item_ids == item_id)
    if len(found) == 0:
        raise InvalidRequestError(
            f"item {item_id} is not among this response's {len(response.candidates.candidates)} candidates; "
            "explain an item from the response"
        )
    return int(found[0])
