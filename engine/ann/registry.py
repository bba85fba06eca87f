"""Backend names -> implementations. Adding a backend is one module plus one line here.

Modules are imported on first use, so a missing library makes its backend *unavailable*
(with the reason) instead of breaking start-up.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Any

from engine.ann.base import AnnIndex
from engine.artifacts import MANIFEST
from engine.errors import BackendUnavailableError, UnknownBackendError

BACKENDS: dict[str, tuple[str, str]] = {
    # name: (module:class, pip package that provides the library)
    "exact": ("engine.ann.exact:ExactIndex", "numpy"),
    "faiss-hnsw": ("engine.ann.faiss_hnsw:FaissHnswIndex", "faiss-cpu"),
    "faiss-ivf": ("engine.ann.faiss_ivf:FaissIvfIndex", "faiss-cpu"),
    "faiss-ivfpq": ("engine.ann.faiss_ivfpq:FaissIvfPqIndex", "faiss-cpu"),
    "hnswlib": ("engine.ann.hnswlib_index:HnswlibIndex", "hnswlib"),
    "scann": ("engine.ann.scann_index:ScannIndex", "scann"),
    "usearch": ("engine.ann.usearch_index:UsearchIndex", "usearch"),
    "milvus": ("engine.ann.milvus_index:MilvusIndex", "pymilvus"),
}


def names() -> list[str]:
    return list(BACKENDS)


@cache
def _import(name: str) -> type[AnnIndex] | str:
    """The backend class, or the reason it cannot be imported."""
    target, package = BACKENDS[name]
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return f"{package} is not installed ({exc.name or exc}); install it with `pip install {package}`"
    return getattr(module, class_name)


def availability(build: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str | None]:
    """name -> None when usable, else why not: its library is missing, or the service its build
    parameters (the configuration's `build` tables; none: the defaults) name cannot be used."""
    reasons: dict[str, str | None] = {}
    for name in BACKENDS:
        found = _import(name)
        if isinstance(found, str):
            reasons[name] = found
        else:
            reasons[name] = found.unreachable(**(build or {}).get(name, {}))
    return reasons


def available() -> list[str]:
    return [name for name, reason in availability().items() if reason is None]


def usable(index_dir: Callable[[str], Path]) -> list[str]:
    """Backends that can search a data directory now: available here, and built there (a
    manifest in `index_dir(name)`) or needing no build. Reads no data set."""
    return [
        name
        for name in available()
        if not backend_class(name).needs_build or (index_dir(name) / MANIFEST).exists()
    ]


def backend_class(name: str) -> type[AnnIndex]:
    if name not in BACKENDS:
        raise UnknownBackendError(f"unknown backend '{name}'; choose one of: {', '.join(BACKENDS)}")
    found = _import(name)
    if isinstance(found, str):
        raise BackendUnavailableError(f"backend '{name}' is unavailable: {found}")
    return found


def create(name: str, **build_params: Any) -> AnnIndex:
    """A new, unbuilt index of backend `name`."""
    cls = backend_class(name)
    try:
        return cls(**build_params)
    except TypeError as exc:
        raise UnknownBackendError(f"bad build parameters for backend '{name}': {exc}") from None


def grid_axes(name: str, kind: str = "search") -> dict[str, list[int]]:
    """Each parameter's values in the `ann-bench` grid of `kind` ("search" or "build"), from
    grids.toml (data, not code)."""
    return dict(_grids().get(kind, {}).get(name, {}))


def search_grid(name: str) -> list[dict[str, int]]:
    """Every search setting `ann-bench` sweeps: the cartesian product of the grid's axes."""
    return _product(grid_axes(name, "search"))


def build_grid(name: str) -> list[dict[str, int]]:
    """Every build setting `ann-bench --builds` sweeps ([{}]: the defaults only)."""
    return _product(grid_axes(name, "build"))


def _product(grid: dict[str, list[int]]) -> list[dict[str, int]]:
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in product(*(grid[k] for k in keys))] or [{}]


@cache
def _grids() -> dict[str, dict[str, dict[str, list[int]]]]:
    return tomllib.loads(resources.files("engine.ann").joinpath("grids.toml").read_text())
