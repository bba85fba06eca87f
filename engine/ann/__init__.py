"""Swappable ANN backends behind one interface (see base.py and registry.py)."""

from engine.ann.base import AnnIndex, SearchResult
from engine.ann.registry import (
    availability,
    available,
    backend_class,
    build_grid,
    create,
    grid_axes,
    names,
    search_grid,
    usable,
)

__all__ = [
    "AnnIndex",
    "SearchResult",
    "availability",
    "available",
    "backend_class",
    "build_grid",
    "create",
    "grid_axes",
    "names",
    "search_grid",
    "usable",
]
