"""Why an item ranks where it does: CatBoost SHAP values measured against the request.

A user or context feature has one value for every candidate of a request, so it lifts or
lowers all their scores alike and says nothing about why one item beat the others. An
explanation therefore compares the item with the request's mean candidate: each feature's
contribution minus its mean contribution over the candidates (they sum to the item's score
minus the mean score), grouped by user / item / cross, next to the paths that found it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import NotInResponseError, NotScoredError
from engine.features import FEATURES
from engine.ranking.model import Reranker
from engine.requests import RecommendResponse

DESCRIPTIONS = {spec.name: spec.description for spec in FEATURES}
GROUPS = {spec.name: spec.group for spec in FEATURES}
GROUP_ORDER = ("item", "cross", "user")


@dataclass(frozen=True)
class Contribution:
    feature: str
    group: str  # "user", "item" or "cross"
    description: str
    value: float
    other_value: float | None
    contribution: float  # SHAP value minus the request's mean, or the difference of two items'


@dataclass(frozen=True)
class Explanation:
    """`item_id`'s score against `baseline`: the mean score of the request's candidates, or
    with `other_id` the other item's score. All contributions sum to score - baseline;
    `contributions` holds the largest, `groups` the sums per feature group, `found_by` the
    item's 1-based rank in each retrieval path that found it."""

    item_id: int
    score: float
    baseline: float
    other_id: int | None
    other_score: float | None
    groups: dict[str, float]
    found_by: dict[str, int]
    contributions: tuple[Contribution, ...]


def explain(
    reranker: Reranker,
    response: RecommendResponse,
    item_id: int,
    other_id: int | None = None,
    top: int | None = 8,
) -> Explanation:
    """`top` None keeps every feature's contribution, largest first."""
    if not response.model_scored:
        raise NotScoredError(f"this response has no model scores to explain ({'; '.join(response.degraded)})")
    row = _row(response, item_id)
    other_row = None if other_id is None else _row(response, other_id)
    values = response.features
    if other_row is None:
        shap = reranker.shap(values)[:, :-1]  # every candidate, for the mean
        effect, other_values = shap[row] - shap.mean(axis=0), None
        baseline = float(response.scores.mean())
    else:  # the request's mean cancels out of a difference: two rows are enough
        shap = reranker.shap(values[[row, other_row]])[:, :-1]
        effect, other_values = shap[0] - shap[1], values[other_row]
        baseline = float(response.scores[other_row])
    names = reranker.feature_names
    groups = [GROUPS.get(name, "cross") for name in names]
    order = np.argsort(-np.abs(effect), kind="stable")[:top]
    contributions = tuple(
        Contribution(
            feature=names[j],
            group=groups[j],
            description=DESCRIPTIONS.get(names[j], ""),
            value=float(values[row, j]),
            other_value=None if other_values is None else float(other_values[j]),
            contribution=float(effect[j]),
        )
        for j in order
    )
    per_group = np.bincount(
        [GROUP_ORDER.index(g) for g in groups], weights=effect, minlength=len(GROUP_ORDER)
    )
    candidates = response.candidates.candidates
    found_by = {
        name: int(rank) + 1
        for name, rank in zip(candidates.path_names, candidates.path_ranks[row], strict=True)
        if rank >= 0
    }
    return Explanation(
        item_id=item_id,
        score=float(response.scores[row]),
        baseline=baseline,
        other_id=other_id,
        other_score=None if other_row is None else float(response.scores[other_row]),
        groups={group: float(total) for group, total in zip(GROUP_ORDER, per_group, strict=True)},
        found_by=found_by,
        contributions=contributions,
    )


def ranked_below(response: RecommendResponse, item_id: int) -> int | None:
    """The item just below `item_id` in the top K (None for the last one or an item outside
    it): what "why does it rank above the next one" compares it with."""
    top = [item.item_id for item in response.items]
    position = top.index(item_id) if item_id in top else -1
    return top[position + 1] if 0 <= position < len(top) - 1 else None


def _row(response: RecommendResponse, item_id: int) -> int:
    found = np.flatnonzero(response.candidates.candidates.item_ids == item_id)
    if len(found) == 0:
        raise NotInResponseError(
            f"item {item_id} is not among this response's {len(response.candidates.candidates)} candidates; "
            "explain an item from the response"
        )
    return int(found[0])
