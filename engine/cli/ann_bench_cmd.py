"""`twostage ann-bench`: recall against latency for every backend's search grid."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from rich.table import Table

from engine.bench import ann_sweep
from engine.cli.build_cmd import backend_list
from engine.cli.common import add_common, config_of, emit_json, layout_of, mib, progress_bars, stdout
from engine.cli.plot import line_plot
from engine.engine import Engine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ann-bench", help="sweep ANN search settings: recall@k, latency, QPS")
    add_common(p)
    p.add_argument("--backend", default="all", help="one backend, a comma-separated list, or 'all' built")
    p.add_argument("--k", type=int, default=500, help="neighbours per query (default 500)")
    p.add_argument("--queries", type=int, default=200, help="number of queries (user embeddings)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    engine = Engine.open(layout_of(args).root, config_of(args))
    backends = engine.usable_backends() if args.backend == "all" else backend_list(args.backend)
    with progress_bars() as progress:
        results = ann_sweep(engine, backends, args.k, args.queries, progress)
    if args.json:
        emit_json(
            {
                "n_items": engine.catalog.n_items,
                "dim": engine.catalog.dim,
                "rows": [asdict(r) for r in results],
            }
        )
        return 0
    table = Table(
        "backend",
        "search params",
        f"recall@{args.k}",
        "p50 ms",
        "p99 ms",
        "QPS",
        title=(
            f"{engine.catalog.n_items:,} items x {engine.catalog.dim} dims, "
            f"{results[0].queries} queries, 1 thread"
        ),
        title_justify="left",
    )
    for r in results:
        params = " ".join(_setting(name, value, r.used.get(name, value)) for name, value in r.params.items())
        table.add_row(
            r.backend, params or "-", f"{r.recall:.4f}", f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}", f"{r.qps:,.0f}"
        )
    stdout.print(table)
    builds = Table("backend", "build time", "memory", title="Build", title_justify="left")
    for backend in backends:
        first = next(r for r in results if r.backend == backend)
        builds.add_row(backend, f"{first.build_seconds:.1f} s", mib(first.memory_bytes))
    stdout.print(builds)
    curves = {b: [(r.p50_ms, r.recall) for r in results if r.backend == b] for b in backends}
    stdout.print(line_plot(curves, x_label="p50 latency per query (ms)", y_label=f"recall@{args.k}"))
    return 0


def _setting(name: str, asked: int, used: int) -> str:
    """`ef=64`, or `ef=64 (ran 500)` where the library raised it to k."""
    return f"{name}={asked}" if asked == used else f"{name}={asked} (ran {used})"
