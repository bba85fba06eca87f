"""`twostage ann-bench`: recall against latency for every backend's search grid."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from rich.table import Table

from cli.build_cmd import backend_list
from cli.common import add_common, config_of, emit_json, layout_of, mib, progress_bars, stdout
from engine.ann import grid_axes
from engine.engine import Engine
from lab.ann_bench import BenchRow, ann_sweep
from lab.render.plot import line_plot


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ann-bench", help="sweep ANN search (and build) settings: recall@k, latency, QPS")
    add_common(p)
    p.add_argument("--backend", default="all", help="one backend, a comma-separated list, or 'all' built")
    p.add_argument("--k", type=int, default=500, help="neighbours per query (default 500)")
    p.add_argument("--queries", type=int, default=200, help="number of queries (user embeddings)")
    p.add_argument(
        "--builds",
        action="store_true",
        help="also sweep build settings (grids.toml [build.NAME]): each built in memory, then searched",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    engine = Engine.open(layout_of(args).root, config_of(args))
    backends = engine.usable_backends() if args.backend == "all" else backend_list(args.backend)
    with progress_bars() as progress:
        results = ann_sweep(engine, backends, args.k, args.queries, progress, builds=args.builds)
    if args.json:
        emit_json(
            {
                "n_items": engine.catalog.n_items,
                "dim": engine.catalog.dim,
                "rows": [asdict(r) for r in results],
            }
        )
        return 0
    groups: dict[str, list[BenchRow]] = {}
    for r in results:  # one table per built index: a backend, or a backend at one build setting
        groups.setdefault(f"{r.backend} {_built(r)}" if args.builds else "", []).append(r)
    catalog = engine.catalog
    header = f"{catalog.n_items:,} items x {catalog.dim} dims, {results[0].queries} queries, 1 thread"
    for group, rows in groups.items():
        table = Table(
            "backend",
            "search params",
            f"recall@{args.k}",
            "p50 ms",
            "p99 ms",
            "QPS",
            title=f"{header}; {group}" if group else header,
            title_justify="left",
        )
        for r in rows:
            params = " ".join(_setting(key, value, r.used.get(key, value)) for key, value in r.params.items())
            latency = (f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}")
            table.add_row(r.backend, params or "-", f"{r.recall:.4f}", *latency, f"{r.qps:,.0f}")
        stdout.print(table)
    builds = Table(
        "backend",
        "build params",
        "build time",
        "resident memory growth",
        "on disk",
        title="Build",
        title_justify="left",
    )
    curves: dict[str, list[tuple[float, float]]] = {}
    for r in results:
        name = f"{r.backend} {_built(r)}".strip() if args.builds else r.backend
        if name not in curves:
            builds.add_row(
                r.backend, _built(r), f"{r.build_seconds:.1f} s", mib(r.resident_bytes), mib(r.disk_bytes)
            )
        curves.setdefault(name, []).append((r.p50_ms, r.recall))
    stdout.print(builds)
    stdout.print(line_plot(curves, x_label="p50 latency per query (ms)", y_label=f"recall@{args.k}"))
    return 0


def _built(row: BenchRow) -> str:
    """The build parameters its grid sweeps (M, nlist, leaves, ...): the ones that matter here."""
    swept = grid_axes(row.backend, "build")
    return " ".join(f"{name}={value}" for name, value in row.build_params.items() if name in swept) or "-"


def _setting(name: str, asked: int, used: int) -> str:
    """`ef=64`, or `ef=64 (ran 500)` where the library raised it to k."""
    return f"{name}={asked}" if asked == used else f"{name}={asked} (ran {used})"
