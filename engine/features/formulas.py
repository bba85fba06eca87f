"""The few formulas several features share: smoothed rates, ages in days, category share
and affinity, price match. Each reads a FeatureContext and returns one value per row (or per
distinct user)."""

from __future__ import annotations

import numpy as np

from engine.events import NEVER
from engine.features.context import FeatureContext
from engine.limits import DAY


def ratio(num: np.ndarray, den: np.ndarray, prior: float, weight: float) -> np.ndarray:
    """Smoothed rate (num + prior * weight) / (den + weight), so tiny counts stay sane."""
    return (num + prior * weight) / (den + weight)


def days_since(c: FeatureContext, times: np.ndarray) -> np.ndarray:
    return np.where(times > NEVER, (c.u_end - times) / DAY, np.nan).astype(np.float32)


def category_share(c: FeatureContext) -> np.ndarray:
    counts = c.history_categories
    total = counts.sum(axis=1)
    share = counts[c.row_user, c.item_category] / np.maximum(total[c.row_user], 1)
    return np.where(total[c.row_user] > 0, share, np.nan).astype(np.float32)


def price_match(c: FeatureContext) -> np.ndarray:
    sensitivity = np.where(c.u_known, c.users.price_sensitivity[np.maximum(c.u_user, 0)], np.nan)
    preferred = (0.5 - c.per_row(sensitivity)) * 2.0
    relative = c.item_log_price - c.store.category_log_median[c.item_category]
    return (-np.abs(relative - preferred)).astype(np.float32)


def days_since_category(c: FeatureContext) -> np.ndarray:
    last_time = c.category_last_click[c.row_user, c.item_category]
    return np.where(last_time > NEVER, (c.inputs.end - last_time) / DAY, np.nan).astype(np.float32)
