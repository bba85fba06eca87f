"""What a request may ask for, and the one definition of each check.

The engine runs these checks, the API's models declare the same bounds (so the OpenAPI
schema shows them), and the configuration and the CLI read them from here.
"""

from __future__ import annotations

import numpy as np

from engine.errors import InvalidRequestError

MAX_K = 1000
MAX_CANDIDATES = 100_000
HOURS_PER_DAY = 24
MAX_ID = 2**53 - 1  # the largest id a JSON number holds exactly (in every client)
MAX_SEARCH_PARAM = 100_000  # efSearch, nprobe, ...: beyond any index this lab builds
DAY = 86_400  # seconds: the log's timestamps are Unix seconds


def whole_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def check_user_id(user_id: object) -> int:
    if not whole_number(user_id):
        raise InvalidRequestError(f"user id must be a whole number, got {user_id!r}")
    return int(user_id)


def k_limit(n_items: int) -> int:
    """The longest list a catalog of `n_items` can answer (the API's document says the same)."""
    return min(MAX_K, n_items)


def size_limit(n_items: int) -> int:
    """The largest candidate set a catalog of `n_items` can give."""
    return min(n_items, MAX_CANDIDATES)


def check_k(k: object, n_items: int) -> int:
    """The list length: at most MAX_K, and never more than the catalog holds."""
    limit = k_limit(n_items)
    if not whole_number(k) or not 1 <= k <= limit:
        catalog = f" (the catalog has {n_items} items)" if limit < MAX_K else ""
        raise InvalidRequestError(f"k must be a whole number from 1 to {limit}{catalog}, got {k!r}")
    return int(k)


def check_size(requested: object, default: int, n_items: int) -> int:
    """The candidate-set size: as requested (checked), or the default capped at the catalog."""
    limit = size_limit(n_items)
    n = min(default, limit) if requested is None else requested
    if not whole_number(n) or not 1 <= n <= limit:
        raise InvalidRequestError(
            f"the number of candidates must be a whole number from 1 to {limit} "
            f"(the catalog has {n_items} items), got {n!r}"
        )
    return int(n)


def check_context(category: object, hour: object, n_categories: int) -> None:
    if category is not None and not (whole_number(category) and 0 <= category < n_categories):
        raise InvalidRequestError(
            f"context category must be a category code from 0 to {n_categories - 1}, got {category!r}"
        )
    if hour is not None and not (
        isinstance(hour, int | float) and not isinstance(hour, bool) and 0 <= hour < HOURS_PER_DAY
    ):
        raise InvalidRequestError(
            f"context hour must be a number from 0 to {HOURS_PER_DAY} (exclusive), got {hour!r}"
        )


def check_item_id(item_id: object, n_items: int) -> int:
    if not whole_number(item_id):
        raise InvalidRequestError(f"item id must be a whole number, got {item_id!r}")
    if not 0 <= item_id < n_items:
        raise InvalidRequestError(f"item {item_id} is not in the catalog (ids 0..{n_items - 1})")
    return int(item_id)
