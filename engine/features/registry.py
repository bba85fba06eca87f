"""Every stage-2 feature in one list: name, group, one-line description, and how to compute
it from a FeatureContext. Adding a feature is one entry here; the model's manifest, the
explanations and the app read names and descriptions from this list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.features import formulas
from engine.features.context import SESSION, FeatureContext
from engine.limits import DAY
from engine.retrieval.registry import PATHS

WEEK, MONTH, YEAR = 7 * DAY, 30 * DAY, 365 * DAY


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    group: str  # "user", "item" or "cross"
    description: str
    compute: Callable[[FeatureContext], np.ndarray]
    #: optional data-set attributes the feature reads (engine.data.ATTRIBUTES); a data set
    #: without them leaves the feature out of the feature set and the model
    requires: tuple[str, ...] = ()


def _user(
    name: str,
    description: str,
    per_user: Callable[[FeatureContext], np.ndarray],
    requires: tuple[str, ...] = (),
) -> FeatureSpec:
    """A user feature: computed once per distinct user and time, then broadcast to rows."""
    return FeatureSpec(name, "user", description, lambda c: c.per_row(per_user(c)), requires)


def _segment(index: int, name: str) -> FeatureSpec:
    return _user(
        f"u_segment_{name}",
        f"1 if the user is in the '{name}' segment",
        lambda c: np.where(c.u_known, c.users.segment[np.maximum(c.u_user, 0)] == index, np.nan),
        ("segment",),
    )


FEATURES: tuple[FeatureSpec, ...] = (
    # ------------------------------------------------------------------ user
    _user("u_known", "1 for a known user, 0 for a cold start", lambda c: c.u_known.astype(np.float32)),
    _user("u_clicks_total", "clicks before now", lambda c: c.user_count("click", None)),
    _user("u_clicks_1d", "clicks in the last day", lambda c: c.user_count("click", DAY)),
    _user("u_clicks_7d", "clicks in the last 7 days", lambda c: c.user_count("click", WEEK)),
    _user("u_clicks_30d", "clicks in the last 30 days", lambda c: c.user_count("click", MONTH)),
    _user("u_purchases_total", "purchases before now", lambda c: c.user_count("purchase", None)),
    _user("u_purchases_30d", "purchases in the last 30 days", lambda c: c.user_count("purchase", MONTH)),
    _user(
        "u_impressions_30d", "items shown in the last 30 days", lambda c: c.user_count("impression", MONTH)
    ),
    _user(
        "u_ctr_30d",
        "smoothed click rate over the last 30 days",
        lambda c: formulas.ratio(c.user_count("click", MONTH), c.user_count("impression", MONTH), 0.1, 10),
    ),
    _user(
        "u_purchase_rate",
        "smoothed purchases per click",
        lambda c: formulas.ratio(c.user_count("purchase", None), c.user_count("click", None), 0.15, 5),
    ),
    _user(
        "u_days_since_click",
        "days since the last click (activity)",
        lambda c: formulas.days_since(c, c.history[1][:, -1]),
    ),
    _user(
        "u_session_clicks",
        "clicks in the last 30 minutes (real time)",
        lambda c: c.user_count("click", SESSION),
    ),
    _user(
        "u_session_purchases",
        "purchases in the last 30 minutes (real time)",
        lambda c: c.user_count("purchase", SESSION),
    ),
    _user(
        "u_history_categories",
        "distinct categories in the recent history",
        lambda c: (c.history_categories > 0).sum(axis=1).astype(np.float32),
    ),
    _user(
        "u_category_entropy",
        "spread of the recent history over categories (bits)",
        lambda c: c.category_entropy,
    ),
    _user(
        "u_history_log_price",
        "mean log price of the recent history",
        lambda c: c.history_log_price,
        requires=("price",),
    ),
    _segment(0, "bargain"),
    _segment(1, "mainstream"),
    _segment(2, "premium"),
    _segment(3, "explorer"),
    _user(
        "u_price_sensitivity",
        "price sensitivity from the user profile (0..1)",
        lambda c: np.where(c.u_known, c.users.price_sensitivity[np.maximum(c.u_user, 0)], np.nan),
        requires=("price_sensitivity",),
    ),
    FeatureSpec("ctx_hour_sin", "user", "time of day, sine", lambda c: np.sin(c.hour / 24 * 2 * np.pi)),
    FeatureSpec("ctx_hour_cos", "user", "time of day, cosine", lambda c: np.cos(c.hour / 24 * 2 * np.pi)),
    FeatureSpec(
        "ctx_weekend",
        "user",
        "1 on Saturday and Sunday",
        lambda c: c.per_row((((c.u_end // DAY) + 3) % 7 >= 5).astype(np.float32)),
    ),
    FeatureSpec(
        "ctx_has_category",
        "user",
        "1 when the session has a current category",
        lambda c: (c.session_category >= 0).astype(np.float32),
    ),
    # ------------------------------------------------------------------ item
    FeatureSpec("i_clicks_1d", "item", "clicks in the last day", lambda c: c.item_count("click", DAY)),
    FeatureSpec(
        "i_clicks_3d", "item", "clicks in the last 3 days (trend)", lambda c: c.item_count("click", 3 * DAY)
    ),
    FeatureSpec("i_clicks_7d", "item", "clicks in the last 7 days", lambda c: c.item_count("click", WEEK)),
    FeatureSpec("i_clicks_30d", "item", "clicks in the last 30 days", lambda c: c.item_count("click", MONTH)),
    FeatureSpec("i_clicks_365d", "item", "clicks in the last year", lambda c: c.item_count("click", YEAR)),
    FeatureSpec("i_clicks_total", "item", "clicks before now", lambda c: c.item_count("click", None)),
    FeatureSpec(
        "i_purchases_30d", "item", "purchases in the last 30 days", lambda c: c.item_count("purchase", MONTH)
    ),
    FeatureSpec(
        "i_impressions_30d",
        "item",
        "times shown in the last 30 days",
        lambda c: c.item_count("impression", MONTH),
    ),
    FeatureSpec(
        "i_ctr_30d",
        "item",
        "smoothed click rate over the last 30 days",
        lambda c: formulas.ratio(c.item_count("click", MONTH), c.item_count("impression", MONTH), 0.1, 20),
    ),
    FeatureSpec(
        "i_purchase_rate",
        "item",
        "smoothed purchases per click",
        lambda c: formulas.ratio(c.item_count("purchase", None), c.item_count("click", None), 0.15, 5),
    ),
    FeatureSpec(
        "i_clicks_1h", "item", "clicks in the last hour (real time)", lambda c: c.item_count("click", 3600)
    ),
    FeatureSpec(
        "i_log_popularity",
        "item",
        "log of the catalog's popularity score",
        lambda c: c.attribute("log_popularity"),
        requires=("popularity",),
    ),
    FeatureSpec(
        "i_age_days",
        "item",
        "days since the item was created",
        lambda c: c.inputs.end / DAY - c.attribute("created_day"),
        requires=("created_at",),
    ),
    FeatureSpec(
        "i_fresh_14d",
        "item",
        "1 for items created in the last 14 days",
        lambda c: c.inputs.end / DAY - c.attribute("created_day") < 14,
        requires=("created_at",),
    ),
    FeatureSpec(
        "i_log_inventory",
        "item",
        "log(1 + units in stock)",
        lambda c: c.attribute("log_inventory"),
        requires=("inventory",),
    ),
    FeatureSpec(
        "i_in_stock",
        "item",
        "1 when at least one unit is in stock",
        lambda c: c.attribute("in_stock"),
        requires=("inventory",),
    ),
    FeatureSpec("i_category", "item", "category code", lambda c: c.attribute("category")),
    FeatureSpec("i_log_price", "item", "log price", lambda c: c.item_log_price, requires=("price",)),
    FeatureSpec(
        "i_price_vs_category",
        "item",
        "log price minus the category's median log price",
        lambda c: c.attribute("price_vs_category"),
        requires=("price",),
    ),
    FeatureSpec(
        "i_margin",
        "item",
        "margin as a share of price",
        lambda c: c.attribute("margin"),
        requires=("margin",),
    ),
    FeatureSpec(
        "i_promoted",
        "item",
        "1 for promoted items",
        lambda c: c.attribute("promoted"),
        requires=("promoted",),
    ),
    # ----------------------------------------------------------------- cross
    FeatureSpec("x_sim_user", "cross", "cosine of item and user embeddings", lambda c: c.user_sim),
    FeatureSpec(
        "x_sim_query", "cross", "similarity to the request's query vector", lambda c: c.inputs.query_sim
    ),
    FeatureSpec(
        "x_ann_rank_pct",
        "cross",
        "rank of the ANN score among the candidates (0 = best)",
        lambda c: c.rank_pct(np.where(np.isnan(c.inputs.query_sim), c.user_sim, c.inputs.query_sim)),
    ),
    FeatureSpec(
        "x_hist_max_sim",
        "cross",
        "best similarity to the last 10 clicks (history path score)",
        lambda c: c.history_sim_stats[0],
    ),
    FeatureSpec(
        "x_hist_mean_sim", "cross", "mean similarity to the last 10 clicks", lambda c: c.history_sim_stats[1]
    ),
    FeatureSpec(
        "x_hist_last_sim", "cross", "similarity to the most recent click", lambda c: c.history_sim_stats[2]
    ),
    FeatureSpec(
        "x_hist_rank_pct",
        "cross",
        "rank of the history-path score among the candidates",
        lambda c: c.rank_pct(c.history_sim_stats[0]),
    ),
    FeatureSpec(
        "x_trend_rank_pct",
        "cross",
        "rank of the 3-day click trend among the candidates (trending path)",
        lambda c: c.rank_pct(c.item_count("click", 3 * DAY)),
    ),
    FeatureSpec(
        "x_popularity_rank_pct",
        "cross",
        "rank of 7-day clicks among the candidates",
        lambda c: c.rank_pct(c.item_count("click", WEEK)),
    ),
    FeatureSpec(
        "x_promoted_sim",
        "cross",
        "similarity for promoted items (promoted path score), else missing",
        lambda c: np.where(c.attribute("promoted") > 0, c.user_sim, np.nan),
        requires=("promoted",),
    ),
    FeatureSpec(
        "x_category_share",
        "cross",
        "share of the recent history in the item's category (affinity)",
        lambda c: formulas.category_share(c),
    ),
    FeatureSpec(
        "x_category_clicks",
        "cross",
        "recent clicks in the item's category",
        lambda c: c.history_categories[c.row_user, c.item_category],
    ),
    FeatureSpec(
        "x_category_is_top",
        "cross",
        "1 when the item's category is the user's most clicked",
        lambda c: (
            (c.history_categories.argmax(axis=1)[c.row_user] == c.item_category)
            & (c.history_categories.sum(axis=1)[c.row_user] > 0)
        ).astype(np.float32),
    ),
    FeatureSpec(
        "x_declared_affinity",
        "cross",
        "the user profile's affinity for the item's category",
        lambda c: np.where(
            c.per_row(c.u_known),
            c.users.category_affinity.lookup(np.maximum(c.per_row(c.u_user), 0), c.item_category),
            np.nan,
        ),
        requires=("category_affinity",),
    ),
    FeatureSpec(
        "x_price_match",
        "cross",
        "how well the price fits the user's sensitivity (0 = ideal)",
        lambda c: formulas.price_match(c),
        requires=("price", "price_sensitivity"),
    ),
    FeatureSpec(
        "x_price_vs_history",
        "cross",
        "log price minus the mean log price of the user's history",
        lambda c: c.item_log_price - c.per_row(c.history_log_price),
        requires=("price",),
    ),
    FeatureSpec(
        "x_cooc_sum", "cross", "co-clicks with the last 10 clicks, summed", lambda c: c.cooc.sum(axis=0)
    ),
    FeatureSpec(
        "x_cooc_max", "cross", "co-clicks with the last 10 clicks, best", lambda c: c.cooc.max(axis=0)
    ),
    FeatureSpec(
        "x_clicked_before",
        "cross",
        "1 when the user clicked this item in the recent history",
        lambda c: c.clicked_before.astype(np.float32),
    ),
    FeatureSpec(
        "x_session_category_match",
        "cross",
        "1 when the item is in the session's current category",
        lambda c: (c.session_category == c.item_category).astype(np.float32),
    ),
    FeatureSpec(
        "x_days_since_category_click",
        "cross",
        "days since the user last clicked this category",
        lambda c: formulas.days_since_category(c),
    ),
    *(
        FeatureSpec(
            f"x_rank_{path}",
            "cross",
            f"rank in the {path} retrieval path (missing when that path did not find the item)",
            lambda c, column=column: c.path_rank(column),
        )
        for column, path in enumerate(PATHS)
    ),
    FeatureSpec(
        "x_paths_found",
        "cross",
        "how many retrieval paths found the item",
        lambda c: c.paths_found,
    ),
)


def feature_specs(available: frozenset[str] | None = None) -> tuple[FeatureSpec, ...]:
    """The features a data set with these attributes supports (None: all of them)."""
    if available is None:
        return FEATURES
    return tuple(spec for spec in FEATURES if set(spec.requires) <= available)


def feature_names(available: frozenset[str] | None = None) -> list[str]:
    return [spec.name for spec in feature_specs(available)]
