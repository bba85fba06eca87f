"""`twostage bench`: per-stage latency percentiles of the request path on one thread."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from rich.table import Table

from engine.bench import pipeline_bench
from engine.cli.common import add_common, config_of, emit_json, layout_of, progress_bars, stdout
from engine.engine import Engine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="per-stage latency (p50/p95/p99/max) over many requests")
    add_common(p)
    p.add_argument("--requests", type=int, default=1000, help="number of requests (random known users)")
    p.add_argument("--backend", default=None, help="ANN backend (default from the configuration)")
    p.add_argument("--candidates", type=int, default=None, help="candidate-set size (default 500)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    engine = Engine.open(layout_of(args).root, config_of(args))
    with progress_bars() as progress:
        result = pipeline_bench(
            engine, args.requests, backend=args.backend, n_candidates=args.candidates, progress=progress
        )
    if args.json:
        emit_json({"n_items": engine.catalog.n_items, **asdict(result)})
        return 0
    budget = engine.config.budget
    table = Table(
        "stage",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        title=(
            f"{result.requests} requests, {result.n_candidates} candidates, {result.backend}, "
            f"{engine.catalog.n_items:,} items, 1 thread"
        ),
        title_justify="left",
    )
    for stage, stats in result.stages.items():
        style = "bold" if stage == "retrieval" else ""
        table.add_row(
            stage,
            f"{stats.p50_ms:.3f}",
            f"{stats.p95_ms:.3f}",
            f"{stats.p99_ms:.3f}",
            f"{stats.max_ms:.3f}",
            style=style,
        )
    stdout.print(table)
    retrieval = result.stages["retrieval"]
    verdict = "[green]within[/]" if retrieval.p99_ms <= budget.ann_ms else "[red]over[/]"
    stdout.print(f"stage 1 p99 {retrieval.p99_ms:.2f} ms is {verdict} the {budget.ann_ms:g} ms ANN budget")
    stdout.print(f"{result.requests_per_second:,.0f} requests per second on one thread")
    if result.ann_recall is not None:
        stdout.print(f"mean ANN path recall@{result.n_candidates} vs exact search: {result.ann_recall:.3f}")
    return 0
