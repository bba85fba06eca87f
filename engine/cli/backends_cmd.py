"""`twostage backends`: which ANN backends exist, which are usable here, and their grids."""

from __future__ import annotations

import argparse

from rich.table import Table

from engine.ann import availability, search_grid
from engine.cli.common import emit_json, stdout


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backends", help="list ANN backends and whether they are available")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows = [
        {"name": name, "available": reason is None, "reason": reason, "grid": search_grid(name)}
        for name, reason in availability().items()
    ]
    if args.json:
        emit_json(rows)
        return 0
    table = Table("backend", "available", "search grid (ann-bench)")
    for row in rows:
        grid = ", ".join(" ".join(f"{k}={v}" for k, v in p.items()) for p in row["grid"]) or "-"
        table.add_row(row["name"], "yes" if row["available"] else f"no: {row['reason']}", grid)
    stdout.print(table)
    return 0
