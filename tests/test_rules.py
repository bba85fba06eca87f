"""Business rules: applied after scoring, each effect names its rule."""

from __future__ import annotations

import numpy as np

from engine.config import RulesConfig
from engine.engine import Engine
from engine.rules import Ranked, apply_rules


def _ranked(engine: Engine, items: np.ndarray) -> Ranked:
    return Ranked(items, np.linspace(1.0, 0.0, len(items)))


def test_out_of_stock_items_are_dropped_with_the_rule_named(engine: Engine) -> None:
    catalog = engine.catalog
    empty = np.flatnonzero(catalog.inventory == 0)[:3]
    stocked = np.flatnonzero(catalog.inventory > 0)[:5]
    items = np.r_[stocked[:2], empty, stocked[2:]]
    out = apply_rules(_ranked(engine, items), catalog, RulesConfig(order=("out_of_stock",)), k=10)
    assert out.item_ids.tolist() == stocked.tolist()
    assert [(e.item_id, e.rule, e.action) for e in out.effects] == [
        (int(i), "out_of_stock", "dropped") for i in empty
    ]


def test_category_cap_keeps_at_most_n_per_category_in_the_top_k(engine: Engine) -> None:
    catalog = engine.catalog
    same = np.flatnonzero(catalog.category == 0)[:6]
    other = np.flatnonzero(catalog.category == 1)[:6]
    items = np.r_[same, other]
    out = apply_rules(
        _ranked(engine, items), catalog, RulesConfig(order=("category_cap",), category_cap=2), k=4
    )
    top = catalog.category[out.item_ids[:4]]
    assert (np.bincount(top) <= 2).all() and out.item_ids[:2].tolist() == same[:2].tolist()
    moved = {e.item_id for e in out.effects}
    assert moved == set(same[2:4].tolist()), "only items pushed out of the top k are reported"
    assert all(e.rule == "category_cap" and e.action == "moved down" for e in out.effects)


def test_promoted_items_are_boosted_or_pinned(engine: Engine) -> None:
    catalog = engine.catalog
    promoted = np.flatnonzero(catalog.promoted)[0]
    plain = np.flatnonzero(~catalog.promoted)[:9]
    items = np.r_[plain, promoted]  # promoted item last
    boosted = apply_rules(
        _ranked(engine, items), catalog, RulesConfig(order=("promoted",), promoted_boost=0.5), k=10
    )
    assert boosted.item_ids.tolist().index(promoted) < 9
    assert boosted.effects[0].rule == "promoted" and boosted.effects[0].action == "moved up"
    pinned = apply_rules(
        _ranked(engine, items),
        catalog,
        RulesConfig(order=("promoted",), promoted_mode="pin", promoted_pin_position=2),
        k=10,
    )
    assert pinned.item_ids[1] == promoted and pinned.effects[0].action == "pinned"
    assert sorted(pinned.item_ids.tolist()) == sorted(items.tolist())


def test_category_cap_matches_the_rule_written_plainly(engine: Engine) -> None:
    catalog = engine.catalog
    rng = np.random.default_rng(6)
    for _ in range(30):
        items = rng.choice(catalog.n_items, size=int(rng.integers(1, 80)), replace=False)
        cap, k = int(rng.integers(1, 4)), int(rng.integers(1, 20))
        config = RulesConfig(order=("category_cap",), category_cap=cap)
        start = Ranked(items, np.linspace(1.0, 0.0, len(items)), rows=np.arange(len(items)))
        out = apply_rules(start, catalog, config, k=k)
        assert items[out.rows].tolist() == out.item_ids.tolist(), "rows follow their items"
        seen: dict[int, int] = {}
        within, beyond = [], []
        for item in items.tolist():
            category = int(catalog.category[item])
            (within if seen.get(category, 0) < cap else beyond).append(item)
            seen[category] = seen.get(category, 0) + 1
        expected = within + beyond
        assert out.item_ids.tolist() == expected
        pushed = {item for p, item in enumerate(items.tolist()) if p < k and expected.index(item) >= k}
        assert {e.item_id for e in out.effects} == pushed


def test_promoted_boost_orders_as_a_stable_sort_of_the_boosted_scores(engine: Engine) -> None:
    catalog = engine.catalog
    rng = np.random.default_rng(8)
    promoted = np.flatnonzero(catalog.promoted)
    for trial in range(40):
        items = np.r_[rng.choice(promoted, 4, replace=False), rng.choice(catalog.n_items, 60, replace=False)]
        items = np.unique(items)
        scores = np.round(rng.random(len(items)), 1)  # ties
        if trial % 2:  # in score order, as the engine hands it over (the merge); else any order
            scores = np.sort(scores)[::-1].copy()
        out = apply_rules(
            Ranked(items, scores), catalog, RulesConfig(order=("promoted",), promoted_boost=0.3), k=10
        )
        boosted = scores + 0.3 * catalog.promoted[items]
        expected = np.argsort(-boosted, kind="stable")
        assert out.item_ids.tolist() == items[expected].tolist()
        assert out.scores.tolist() == boosted[expected].tolist()
