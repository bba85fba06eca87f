"""`twostage sweep`: quality and latency for candidate-set sizes, as a curve."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from rich.table import Table

from engine.artifacts import atomic_write
from engine.cli.common import add_common, config_of, emit_json, layout_of, progress_bars, stdout
from engine.cli.plot import line_plot
from engine.errors import InvalidRequestError
from engine.sweep import Sweep, candidate_sweep


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="quality and latency against the candidate-set size")
    add_common(p)
    p.add_argument("--users", type=int, default=300, help="users sampled from the test window")
    p.add_argument("--k", type=int, default=10, help="list length judged (default 10)")
    p.add_argument("--png", type=Path, default=None, help="also draw the curves to this PNG file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.png is not None and args.png.suffix.lower() != ".png":
        raise InvalidRequestError(f"--png needs a file name ending in .png, got {args.png}")
    with progress_bars() as progress:
        sweep = candidate_sweep(
            layout_of(args).root, config_of(args), n_users=args.users, k=args.k, progress=progress
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
        f"stage-1 NDCG@{sweep.k}",
        f"stage-1 {second}",
        "p50 ms",
        "p99 ms",
        title=f"{sweep.users} users; ground truth: {sweep.ground_truth}",
        title_justify="left",
    )
    for r in sweep.rows:
        table.add_row(
            str(r.size),
            f"{r.ndcg:.4f}",
            f"{r.second:.3f}",
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r.size for r in sweep.rows]
    figure, (quality, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
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
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110))
    plt.close(figure)
