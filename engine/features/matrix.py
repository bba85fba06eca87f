"""A request's (or a training batch's) feature matrix, from the registry's features.

Serving computes the columns its model reads and fills in the rest on demand (FeatureRows);
training assembles every column (assemble)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property

import numpy as np

from engine.features.context import FeatureContext
from engine.features.registry import FEATURES, FeatureSpec


def assemble(
    context: FeatureContext, specs: tuple[FeatureSpec, ...] = FEATURES, columns: Sequence[int] | None = None
) -> np.ndarray:
    """The (rows x features) float32 matrix, one vectorised call per feature; only `columns`
    (the rest NaN) when given."""
    return _by_feature(context, specs, range(len(specs)) if columns is None else columns).T


def _by_feature(
    context: FeatureContext, specs: tuple[FeatureSpec, ...], columns: Iterable[int]
) -> np.ndarray:
    """(features x rows): each feature fills one contiguous row (a sequential write, not a
    column strided across the matrix); the matrix is its transpose."""
    by_feature = np.full((len(specs), context.n), np.nan, dtype=np.float32)
    _fill(by_feature, context, specs, columns)
    return by_feature


def _fill(
    by_feature: np.ndarray, context: FeatureContext, specs: tuple[FeatureSpec, ...], columns: Iterable[int]
) -> None:
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in columns:
            by_feature[j] = specs[j].compute(context)


class FeatureRows:
    """One request's (rows x features) matrix, computed in two steps. The request computes
    the columns its model reads (a model of a few dozen trees splits on part of them: 30 of
    74 at a million items); the rest, which explanations and the app show but the model
    never reads, are filled in from the same context on the first read of `matrix`: they
    are what the request would have computed, and a client that shows no features never
    pays for them. `model_input` is what the model scored: its unread columns are NaN until
    `matrix` fills them in (the same memory)."""

    def __init__(self, context: FeatureContext, specs: tuple[FeatureSpec, ...], read: Sequence[int]):
        self._context, self._specs, self._read = context, specs, read
        self._by_feature = _by_feature(context, specs, read)
        self.model_input = self._by_feature.T  # CatBoost marks the view it reads read-only

    @cached_property
    def matrix(self) -> np.ndarray:
        read = set(self._read)
        _fill(
            self._by_feature,
            self._context,
            self._specs,
            [j for j in range(len(self._specs)) if j not in read],
        )
        return self._by_feature.T
