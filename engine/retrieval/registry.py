"""The retrieval paths, in one list: their names, their order, what they need to run, which
configuration key sets each one's share, and how each is called.

The order is the candidate set's provenance columns and the path-rank features' (`x_rank_*`).
`Engine` runs the paths by looping over `REGISTRY`; adding a path is its function (one
module) and one line here, and the contract tests (tests/test_path_contract.py) then run
against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.ann.base import AnnIndex
from engine.config import RetrievalConfig
from engine.data import Catalog
from engine.event_store import Cooccurrence
from engine.retrieval import paths
from engine.retrieval.neighbours import NeighbourTable
from engine.retrieval.trending import Trending
from engine.retrieval.types import PathResult, Query


@dataclass(frozen=True)
class PathInputs:
    """Everything a path may read for one request, gathered once by the engine."""

    query: Query
    n: int  # the candidate-set size: paths that back-fill search this many
    index: AnnIndex
    search_params: dict[str, int] | None
    history_params: dict[str, int] | None
    history_table: NeighbourTable | None
    catalog: Catalog
    cooc: Cooccurrence
    popular: Trending
    trending: Trending
    promoted: paths.Promoted
    config: RetrievalConfig


@dataclass(frozen=True)
class RetrievalPath:
    """A path as the engine runs it. `find(inputs, quota)` returns at most its quota, best
    first, unless it back-fills (then up to `inputs.n`, the rest used only when other paths
    fall short). `share` reads its share of the candidate set from the configuration; None
    takes what the others leave. A path that needs a vector or a history gets 0 without one."""

    name: str
    find: Callable[[PathInputs, int], PathResult]
    share: Callable[[RetrievalConfig], float] | None = None
    needs_vector: bool = False
    needs_history: bool = False
    takes_rest: bool = False  # first such runnable path gets what the shares leave


def _ann(inputs: PathInputs, quota: int) -> PathResult:
    size = inputs.n if quota else 0
    return paths.ann_path(inputs.query, inputs.index, size, quota, inputs.search_params)


def _history(inputs: PathInputs, quota: int) -> PathResult:
    recent = inputs.config.history_items
    return paths.history_path(
        inputs.query, inputs.index, inputs.catalog, recent, quota, inputs.history_params, inputs.history_table
    )


def _covisit(inputs: PathInputs, quota: int) -> PathResult:
    return paths.covisit_path(inputs.query, inputs.cooc, inputs.config.history_items, quota)


def _popular(inputs: PathInputs, quota: int) -> PathResult:
    size = inputs.n if quota else 0
    return paths.popular_path(inputs.query, inputs.popular, inputs.catalog, size, quota)


def _trending(inputs: PathInputs, quota: int) -> PathResult:
    return paths.trending_path(inputs.query, inputs.trending, quota)


def _promoted(inputs: PathInputs, quota: int) -> PathResult:
    return paths.promoted_path(inputs.query, inputs.promoted, quota)


REGISTRY: tuple[RetrievalPath, ...] = (
    RetrievalPath("ann", _ann, needs_vector=True, takes_rest=True),
    RetrievalPath("history", _history, lambda c: c.history_share, needs_history=True),
    RetrievalPath("covisit", _covisit, lambda c: c.covisit_share, needs_history=True),
    RetrievalPath("popular", _popular, lambda c: c.popular_share, takes_rest=True),
    RetrievalPath("trending", _trending, lambda c: c.trending_share),
    RetrievalPath("promoted", _promoted, lambda c: c.promoted_share),
)
#: the paths' names in registry order (provenance columns, path-rank features)
PATHS = tuple(path.name for path in REGISTRY)
