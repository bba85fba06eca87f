"""Business rules, applied after scoring to the whole scored list, in the configured order.

Each rule takes the list (best first) and returns the new list plus what it did, so every
dropped or moved item can say which rule did it. All rules are vectorised over the list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.config import RulesConfig
from engine.data import Catalog
from engine.runs import place_in_run, run_starts


@dataclass(frozen=True)
class RuleEffect:
    item_id: int
    rule: str
    action: str  # "dropped", "moved up", "moved down", "pinned"
    detail: str


@dataclass(frozen=True)
class Ranked:
    """Items best first, their final scores, and the effects of the rules so far."""

    item_ids: np.ndarray
    scores: np.ndarray
    effects: tuple[RuleEffect, ...] = ()


def apply_rules(ranked: Ranked, catalog: Catalog, config: RulesConfig, k: int) -> Ranked:
    for name in config.order:
        ranked = RULES[name](ranked, catalog, config, k)
    return ranked


def out_of_stock(ranked: Ranked, catalog: Catalog, config: RulesConfig, k: int) -> Ranked:
    """Drop items with no inventory."""
    empty = catalog.inventory[ranked.item_ids] <= 0
    effects = tuple(
        RuleEffect(int(i), "out_of_stock", "dropped", "no units in stock") for i in ranked.item_ids[empty]
    )
    return Ranked(ranked.item_ids[~empty], ranked.scores[~empty], ranked.effects + effects)


def promoted(ranked: Ranked, catalog: Catalog, config: RulesConfig, k: int) -> Ranked:
    """Boost promoted items' scores, or pin the best promoted item at a fixed position."""
    is_promoted = catalog.promoted[ranked.item_ids]
    if not is_promoted.any():
        return ranked
    before = np.arange(len(ranked.item_ids))
    if config.promoted_mode == "boost":
        scores = ranked.scores + config.promoted_boost * is_promoted
        order = np.argsort(-scores, kind="stable")
        ids, scores = ranked.item_ids[order], scores[order]
        moved = np.flatnonzero(is_promoted[order] & (before[order] > before))
        effects = tuple(
            RuleEffect(
                int(ids[p]),
                "promoted",
                "moved up",
                f"score +{config.promoted_boost:g}: {order[p] + 1} -> {p + 1}",
            )
            for p in moved
        )
        return Ranked(ids, scores, ranked.effects + effects)
    best = int(np.flatnonzero(is_promoted)[0])
    target = min(config.promoted_pin_position, len(ranked.item_ids)) - 1
    if best <= target:
        return ranked
    order = np.r_[before[:target], best, np.delete(before, best)[target:]]
    effect = RuleEffect(
        int(ranked.item_ids[best]), "promoted", "pinned", f"pinned at {target + 1} (was {best + 1})"
    )
    return Ranked(ranked.item_ids[order], ranked.scores[order], (*ranked.effects, effect))


def category_cap(ranked: Ranked, catalog: Catalog, config: RulesConfig, k: int) -> Ranked:
    """At most `category_cap` items per category in the top k: the rest move below it."""
    categories = catalog.category[ranked.item_ids]
    by_category = np.argsort(categories, kind="stable")
    occurrence = np.empty(len(categories), dtype=np.int64)
    occurrence[by_category] = place_in_run(run_starts(categories[by_category]))
    over = occurrence >= config.category_cap
    order = np.concatenate((np.flatnonzero(~over), np.flatnonzero(over)))
    new_position = np.empty(len(order), dtype=np.int64)
    new_position[order] = np.arange(len(order))
    pushed = np.flatnonzero(over & (np.arange(len(order)) < k) & (new_position >= k))
    names = catalog.category_names
    effects = tuple(
        RuleEffect(
            int(ranked.item_ids[p]),
            "category_cap",
            "moved down",
            f"item {occurrence[p] + 1} of {names[categories[p]]} (cap {config.category_cap}): "
            f"{p + 1} -> {new_position[p] + 1}",
        )
        for p in pushed
    )
    return Ranked(ranked.item_ids[order], ranked.scores[order], ranked.effects + effects)


RULES = {"out_of_stock": out_of_stock, "promoted": promoted, "category_cap": category_cap}
