"""`twostage sweep`: quality and latency for candidate-set sizes, as a curve."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from rich.table import Table

from cli.build_cmd import backend_list
from cli.common import add_common, config_of, emit_json, layout_of, progress_bars, stdout
from cli.png import check_png_path, panels, save_png
from engine.ann import backend_class, usable
from lab.render.plot import line_plot
from lab.sweep import JUDGES, RecallSweep, Sweep, candidate_sweep, recall_sweep


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="quality and latency against the candidate-set size or the ANN recall")
    add_common(p)
    p.add_argument(
        "--over",
        choices=("size", "recall"),
        default="size",
        help="size: candidate-set sizes 10 to 1000; recall: each backend's search settings at --candidates",
    )
    p.add_argument("--backend", default="all", help="with --over recall: backends (comma list, or 'all')")
    p.add_argument("--candidates", type=int, default=500, help="with --over recall: candidate-set size")
    p.add_argument("--users", type=int, default=None, help="users from the test window (300; recall: 200)")
    p.add_argument("--k", type=int, default=10, help="list length judged (default 10)")
    p.add_argument("--png", type=Path, default=None, help="also draw the curves to this PNG file")
    p.add_argument(
        "--judge",
        choices=JUDGES,
        default="held-out",
        help="held-out: the users' positives in the test window, as `eval` judges (default); "
        "click-model: the synthetic generator's click probabilities (synthetic truth: it flatters)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_png_path(args.png)
    if args.over == "recall":
        return _recall(args)
    with progress_bars() as progress:
        sweep = candidate_sweep(
            layout_of(args).root,
            config_of(args),
            n_users=args.users or 300,
            k=args.k,
            judge_name=args.judge,
            progress=progress,
        )
    if args.png is not None:
        write_png(sweep, args.png)
    if args.json:
        emit_json({**asdict(sweep), "enough": sweep.enough})
        return 0
    second = f"{sweep.second_metric}@{sweep.k}"
    table = Table(
        "candidates",
        f"NDCG@{sweep.k}",
        second,
        f"served NDCG@{sweep.k}",
        f"stage-1 NDCG@{sweep.k}",
        f"stage-1 {second}",
        "p50 ms",
        "p99 ms",
        title=f"{sweep.users} users; ground truth: {sweep.ground_truth}; re-ranked in the model's "
        "order, served after the business rules",
        title_justify="left",
    )
    for r in sweep.rows:
        table.add_row(
            str(r.size),
            f"{r.ndcg:.4f}",
            f"{r.second:.3f}",
            f"{r.served_ndcg:.4f}",
            f"{r.stage1_ndcg:.4f}",
            f"{r.stage1_second:.3f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
        )
    stdout.print(table)
    curves = {
        "re-ranked": [(r.size, r.ndcg) for r in sweep.rows],
        "stage 1 only": [(r.size, r.stage1_ndcg) for r in sweep.rows],
    }
    stdout.print(line_plot(curves, x_label="candidate-set size", y_label=f"NDCG@{sweep.k}", height=12))
    latency = {
        "p50": [(r.size, r.p50_ms) for r in sweep.rows],
        "p99": [(r.size, r.p99_ms) for r in sweep.rows],
    }
    stdout.print(
        line_plot(latency, x_label="candidate-set size", y_label="latency per request (ms)", height=8)
    )
    if sweep.enough is None:
        stdout.print(
            f"quality still improves by more than {sweep.tolerance:.0%} at {sweep.rows[-1].size} candidates"
        )
    else:
        stdout.print(
            f"beyond [bold]{sweep.enough}[/] candidates NDCG@{sweep.k} improves by less than "
            f"{sweep.tolerance:.0%} (relative)"
        )
    if args.png is not None:
        stdout.print(f"curves written to {args.png}")
    return 0


def write_png(sweep: Sweep, path: Path) -> None:
    sizes = [r.size for r in sweep.rows]
    figure, (quality, latency) = panels(2, (11, 4.2))
    quality.plot(sizes, [r.ndcg for r in sweep.rows], "o-", label="re-ranked")
    quality.plot(sizes, [r.stage1_ndcg for r in sweep.rows], "s--", label="stage 1 only")
    if sweep.enough is not None:
        quality.axvline(sweep.enough, color="grey", linestyle=":", label=f"enough: {sweep.enough}")
    quality.set(
        xscale="log",
        xlabel="candidate-set size",
        ylabel=f"NDCG@{sweep.k}",
        title=f"Quality ({sweep.ground_truth})",
    )
    quality.legend()
    latency.plot(sizes, [r.p50_ms for r in sweep.rows], "o-", label="p50")
    latency.plot(sizes, [r.p99_ms for r in sweep.rows], "s--", label="p99")
    latency.set(
        xscale="log", xlabel="candidate-set size", ylabel="ms per request", title="Latency, one thread"
    )
    latency.legend()
    save_png(figure, path)


def _recall(args: argparse.Namespace) -> int:
    root, config = layout_of(args).root, config_of(args)
    backends = usable(layout_of(args).index) if args.backend == "all" else backend_list(args.backend)
    backends = [b for b in backends if backend_class(b).needs_build] or backends  # exact is the reference
    with progress_bars() as progress:
        sweep = recall_sweep(
            root,
            config,
            backends=backends,
            size=args.candidates,
            judge_name=args.judge,
            n_users=args.users or 200,
            k=args.k,
            progress=progress,
        )
    if args.png is not None:
        write_recall_png(sweep, args.png)
    if args.json:
        emit_json(asdict(sweep))
        return 0
    table = Table(
        "backend",
        "search params",
        f"recall@{sweep.size}",
        f"NDCG@{sweep.k}",
        "served",
        "stage 1",
        "ANN ms",
        "total ms",
        title=(
            f"{sweep.users} users, {sweep.size} candidates: the ANN path's recall against exact "
            f"search, NDCG@{sweep.k} after re-ranking (served: after the business rules) and of stage "
            f"1's top {sweep.k} alone, p50 "
            f"latencies; ground truth: {sweep.ground_truth}"
        ),
        title_justify="left",
    )
    for r in sweep.rows:
        table.add_row(
            r.backend,
            " ".join(f"{key}={value}" for key, value in r.params.items()) or "-",
            f"{r.ann_recall:.3f}",
            f"{r.ndcg:.4f}",
            f"{r.served_ndcg:.4f}",
            f"{r.stage1_ndcg:.4f}",
            f"{r.ann_p50_ms:.3f}",
            f"{r.p50_ms:.2f}",
        )
    stdout.print(table)
    stdout.print(
        line_plot(
            sweep.curves(),
            x_label=f"ANN path recall@{sweep.size}",
            y_label=f"NDCG@{sweep.k}",
            height=12,
            log_x=False,
        )
    )
    if args.png is not None:
        stdout.print(f"curves written to {args.png}")
    return 0


def write_recall_png(sweep: RecallSweep, path: Path) -> None:
    figure, (quality, latency) = panels(2, (11, 4.2))
    for backend, points in sweep.curves().items():
        line = quality.plot(*zip(*points, strict=True), "o-", label=f"{backend}, re-ranked")[0]
        first = sorted((r.ann_recall, r.stage1_ndcg) for r in sweep.rows if r.backend == backend)
        colour = line.get_color()
        quality.plot(*zip(*first, strict=True), "s--", color=colour, label=f"{backend}, stage 1 only")
        rows = sorted((r for r in sweep.rows if r.backend == backend), key=lambda row: row.ann_p50_ms)
        latency.plot([r.ann_p50_ms for r in rows], [r.ndcg for r in rows], "o-", label=backend)
    quality.set(
        xlabel=f"ANN path recall@{sweep.size} (against exact search)",
        ylabel=f"NDCG@{sweep.k} after re-ranking",
        title=f"How much recall the final list needs ({sweep.ground_truth})",
    )
    latency.set(
        xscale="log", xlabel="ANN search p50 (ms)", ylabel=f"NDCG@{sweep.k}", title="Quality for the time"
    )
    top = max(max(r.ndcg, r.stage1_ndcg) for r in sweep.rows)
    for axes in (quality, latency):
        axes.set_ylim(0, top * 1.1)  # from zero: a flat curve must look flat, not like noise
        axes.legend()
    save_png(figure, path)
