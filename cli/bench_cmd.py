"""`twostage bench`: per-stage latency percentiles of both stages on one thread."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from rich.table import Table
from rich.text import Text

from cli.common import add_common, config_of, emit_json, layout_of, progress_bars, stdout
from engine.engine import Engine
from lab.bench import pipeline_bench


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="per-stage latency (p50/p95/p99/max) over many requests")
    add_common(p)
    p.add_argument("--requests", type=int, default=1000, help="number of requests (random known users)")
    p.add_argument("--backend", default=None, help="ANN backend (default from the configuration)")
    p.add_argument("--candidates", type=int, default=None, help="candidate-set size (default 500)")
    p.add_argument(
        "--live-events",
        type=int,
        default=0,
        help="record this many clicks of the benched users first, in the configured event store "
        "([events] store: memory, journal or redis://...), so features read live state",
    )
    p.add_argument(
        "--idle-ms",
        type=float,
        default=0.0,
        help="idle this long before each request, as at low traffic (the app idles ~200 ms while "
        "it draws an answer); 0 runs them back to back",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    if args.live_events and config.events.store == "journal":
        # bench clicks stay out of the journal
        config = config.replace(events=config.events.replace(store="memory"))
    engine = Engine.open(layout_of(args).root, config)
    with progress_bars() as progress:
        result = pipeline_bench(
            engine,
            args.requests,
            backend=args.backend,
            n_candidates=args.candidates,
            live_events=args.live_events,
            idle_ms=args.idle_ms,
            progress=progress,
        )
    if args.json:
        bare = result.bare
        emit_json(
            {
                "n_items": engine.catalog.n_items,
                **asdict(result),
                "overhead": bare.overhead,
                "total_vs_library": result.stages["total"].p50_ms / bare.library_ms,
            }
        )
        return 0
    budgets = engine.config.budget.stages()
    table = Table(
        "stage",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "budget",
        title=(
            f"{result.requests} requests, {result.n_candidates} candidates, {result.backend}, "
            f"{engine.catalog.n_items:,} items, {result.n_features} features, {result.trees} trees, "
            f"1 thread; {result.live_events:,} live events ({result.events_store})"
            + (f"; {result.idle_ms:g} ms idle before each request" if result.idle_ms else "")
        ),
        title_justify="left",
    )
    for stage, stats in result.stages.items():
        limit = budgets.get(stage)
        verdict = Text("")
        if limit is not None:
            verdict = Text(f"{limit:g} ms", style="green" if stats.p99_ms <= limit else "bold red")
        table.add_row(
            f"  {stage}" if stage in result.retrieval_parts else stage,
            f"{stats.p50_ms:.3f}",
            f"{stats.p95_ms:.3f}",
            f"{stats.p99_ms:.3f}",
            f"{stats.max_ms:.3f}",
            verdict,
            style="bold" if stage == "total" else ("dim" if stage in result.retrieval_parts else ""),
        )
    stdout.print(table)
    bare = result.bare
    stdout.print(
        f"bare library calls (same inputs, p50, request by request): ANN search {bare.ann_bare_ms:.3f} ms "
        f"vs stage {bare.ann_stage_ms:.3f} ms; CatBoost predict {bare.model_bare_ms:.3f} ms vs stage "
        f"{bare.model_stage_ms:.3f} ms; engine overhead on these calls {bare.overhead:+.1%}; "
        f"total p50 {result.stages['total'].p50_ms / bare.library_ms:.2f}x the two calls"
    )
    stdout.print(f"{result.requests_per_second:,.0f} requests per second on one thread")
    if result.ann_recall is not None:
        stdout.print(f"mean ANN path recall@{result.n_candidates} vs exact search: {result.ann_recall:.3f}")
    if result.degraded_requests:
        stdout.print(f"[yellow]{result.degraded_requests} requests were degraded (stage-1 order)[/]")
    return 0
