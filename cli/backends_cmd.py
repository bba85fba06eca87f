"""`twostage backends`: which ANN backends exist, which are usable here and built in the
data directory, and their search grids."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from cli.common import add_common, config_of, emit_json, layout_of, stdout
from engine.ann import availability, backend_class, grid_axes
from engine.artifacts import MANIFEST


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backends", help="list ANN backends: available here, built in --data-dir")
    add_common(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    layout = layout_of(args)
    rows = [
        {
            "name": name,
            "available": reason is None,
            "reason": reason,
            "built": _built(layout.index(name) / MANIFEST, name, reason is None),
            "grid": grid_axes(name),
        }
        for name, reason in availability(config_of(args).build).items()
    ]
    if args.json:
        emit_json(rows)
        return 0
    table = Table("backend", "available", f"built in {layout.root}", "search grid (ann-bench)")
    for row in rows:
        grid = "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in row["grid"].items()) or "-"
        available = "yes" if row["available"] else f"no: {row['reason']}"
        built = {True: "yes", False: "no", None: "not needed"}[row["built"]]
        table.add_row(row["name"], available, built, grid)
    stdout.print(table)
    return 0


def _built(manifest: Path, name: str, available: bool) -> bool | None:
    """None for backends that need no build (exact search uses the data set's vectors)."""
    if available and not backend_class(name).needs_build:
        return None
    return manifest.exists()
