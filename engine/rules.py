"""Business rules, applied after scoring to the whole scored list, in the configured order.

Each rule takes the list (best first) and returns the new list plus what it did, so every
dropped or moved item can say which rule did it. No rule loops over the list in Python (numpy
calls, or one compiled pass where that is plainer), their effects included: a request drops or
moves dozens of items and a client reads the reasons of a few (the top K) or none, so each
rule records arrays and words them on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.config import RulesConfig
from engine.data import Catalog
from engine.kernels import kernel, merge_two_runs
from engine.runs import best_first, contains


@dataclass(frozen=True)
class RuleEffect:
    item_id: int
    rule: str
    action: str  # "dropped", "moved up", "moved down", "pinned"
    detail: str


@dataclass(frozen=True)
class RuleChanges:
    """One rule's effect on several items: `detail(i)` words it for `item_ids[i]`."""

    rule: str
    action: str
    item_ids: np.ndarray
    detail: Callable[[int], str]

    def effects(self, among: np.ndarray | None = None) -> list[RuleEffect]:
        """The effects, worded; only those on `among` when given."""
        which = range(len(self.item_ids)) if among is None else np.flatnonzero(contains(self.item_ids, among))
        return [RuleEffect(int(self.item_ids[i]), self.rule, self.action, self.detail(int(i))) for i in which]


@dataclass(frozen=True)
class Ranked:
    """Items best first, their final scores, what the rules have changed so far, and each
    item's row in the list the rules started from (the candidate set), when known."""

    item_ids: np.ndarray
    scores: np.ndarray
    changes: tuple[RuleChanges, ...] = ()
    rows: np.ndarray | None = None

    @property
    def effects(self) -> tuple[RuleEffect, ...]:
        return effects_of(self.changes)

    def reordered(self, order: np.ndarray, changes: RuleChanges, scores: np.ndarray | None = None) -> Ranked:
        """The items taken in `order` (positions or a mask), with new `scores` if given."""
        return Ranked(
            self.item_ids[order],
            (self.scores if scores is None else scores)[order],
            (*self.changes, changes) if len(changes.item_ids) else self.changes,
            None if self.rows is None else self.rows[order],
        )


def effects_of(changes: tuple[RuleChanges, ...], among: np.ndarray | None = None) -> tuple[RuleEffect, ...]:
    """Every rule's effects in the order the rules ran (only those on `among` when given:
    one membership test over every rule's items, which mostly finds none)."""
    if among is not None and changes:
        hit = contains(np.concatenate([change.item_ids for change in changes]), among)
        if not hit.any():
            return ()
    return tuple(effect for change in changes for effect in change.effects(among))


def apply_rules(ranked: Ranked, catalog: Catalog, config: RulesConfig, k: int) -> Ranked:
    for name in config.order:
        ranked = RULES[name](ranked, catalog, config, k)
    return ranked


def out_of_stock(ranked: Ranked, catalog: Catalog, config: RulesConfig, k: int) -> Ranked:
    """Drop items with no inventory."""
    empty = catalog.inventory[ranked.item_ids] <= 0
    changes = RuleChanges("out_of_stock", "dropped", ranked.item_ids[empty], lambda i: "no units in stock")
    return ranked.reordered(~empty, changes)


def promoted(ranked: Ranked, catalog: Catalog, config: RulesConfig, k: int) -> Ranked:
    """Boost promoted items' scores, or pin the best promoted item at a fixed position."""
    is_promoted = catalog.promoted[ranked.item_ids]
    if not is_promoted.any():
        return ranked
    before = np.arange(len(ranked.item_ids))
    if config.promoted_mode == "boost":
        boost = config.promoted_boost
        scores = ranked.scores + boost * is_promoted
        order = _boosted_order(ranked.scores, is_promoted, scores)
        if order is None:
            order = best_first(scores)
        moved = np.flatnonzero(is_promoted[order] & (order > before))
        changes = RuleChanges(
            "promoted",
            "moved up",
            ranked.item_ids[order[moved]],
            lambda i: f"score +{boost:g}: {order[moved[i]] + 1} -> {moved[i] + 1}",
        )
        return ranked.reordered(order, changes, scores)
    best = int(np.flatnonzero(is_promoted)[0])
    target = min(config.promoted_pin_position, len(ranked.item_ids)) - 1
    if best <= target:
        return ranked
    order = np.r_[before[:target], best, np.delete(before, best)[target:]]
    changes = RuleChanges(
        "promoted", "pinned", ranked.item_ids[[best]], lambda i: f"pinned at {target + 1} (was {best + 1})"
    )
    return ranked.reordered(order, changes)


def _boosted_order(scores: np.ndarray, is_promoted: np.ndarray, boosted: np.ndarray) -> np.ndarray | None:
    """`best_first(boosted)` when the list is in score order (as the engine hands it over):
    promoted items all rise by the same boost, so they and the rest are two runs still in
    order, merged in one compiled pass. None when it is not in order (another rule ran first)."""
    order = merge_two_runs(scores, is_promoted, boosted)
    return order if len(order) == len(scores) else None


def category_cap(ranked: Ranked, catalog: Catalog, config: RulesConfig, k: int) -> Ranked:
    """At most `category_cap` items per category in the top k: the rest move below it."""
    categories = catalog.category[ranked.item_ids]
    order, occurrence, new_position = _capped_order(
        categories, config.category_cap, len(catalog.category_names)
    )
    over = occurrence >= config.category_cap
    pushed = np.flatnonzero(over[:k] & (new_position[:k] >= k))
    names, cap = catalog.category_names, config.category_cap

    def detail(i: int) -> str:
        p = pushed[i]
        where = f"{p + 1} -> {new_position[p] + 1}"
        return f"item {occurrence[p] + 1} of {names[categories[p]]} (cap {cap}): {where}"

    changes = RuleChanges("category_cap", "moved down", ranked.item_ids[pushed], detail)
    return ranked.reordered(order, changes)


@kernel
def _capped_order(
    categories: np.ndarray, cap: int, n_categories: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each item's occurrence in its category (0 = the category's first), the new order
    (items within the cap in list order, then the rest in list order) and each item's new
    position, in one pass with a counter per category."""
    n = len(categories)
    seen = np.zeros(n_categories, dtype=np.int64)
    occurrence = np.empty(n, dtype=np.int64)
    within = 0
    for i in range(n):
        occurrence[i] = seen[categories[i]]
        seen[categories[i]] += 1
        within += occurrence[i] < cap
    order = np.empty(n, dtype=np.int64)
    new_position = np.empty(n, dtype=np.int64)
    kept, moved = 0, within
    for i in range(n):
        if occurrence[i] < cap:
            order[kept], new_position[i] = i, kept
            kept += 1
        else:
            order[moved], new_position[i] = i, moved
            moved += 1
    return order, occurrence, new_position


RULES = {"out_of_stock": out_of_stock, "promoted": promoted, "category_cap": category_cap}
