"""`twostage eval`: end to end over the whole catalog, on the held-out test window."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from cli.common import add_common, config_of, emit_json, layout_of, progress_bars, stdout
from lab.evaluation import CLICK_METRICS, METRICS, POPULARITY, SERVED, STAGE1, TWO_STAGE, evaluate

LABELS = {
    POPULARITY: "popularity",
    "ann": "embeddings alone (ANN path)",
    STAGE1: "stage 1 (merged)",
    TWO_STAGE: "two stages",
    SERVED: "served (after the rules)",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="end-to-end quality over the whole catalog on the test window: popularity, each "
        "retrieval path, stage 1 and both stages, for all, warm and cold users, with 95 %% intervals",
    )
    p.add_argument(
        "--users", type=int, help="judge at most this many test users (default: evaluation.max_users)"
    )
    add_common(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    if args.users is not None:
        config = config.replace(evaluation=config.evaluation.replace(max_users=args.users))
    with progress_bars() as progress:
        report = evaluate(layout_of(args).root, config, progress)
    if args.json:
        emit_json(report)
        return 0
    splits = report["splits"]
    day = lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")  # noqa: E731
    stdout.print(
        f"test window {day(splits['test_from'])} .. {day(splits['end'])} (last {report['test_share']:.0%} of "
        f"the {report['split_by']}); {report['test_users']:,} test users, {report['judged_users']:,} judged; "
        f"top {report['k']} over the whole catalog; {report['n_candidates']} candidates from "
        f"{report['backend']}; everything fitted before the window"
    )
    for segment, data in report["segments"].items():
        if data["users"]:
            title = f"{segment} users ({data['users']:,}), held-out positives"
            stdout.print(_segment_table(title, data, METRICS, report["k"]))
    if "click_model" in report:
        title = (
            "all users, judged by the generator's click model (what each would click if shown: "
            "no exposure bias; NDCG against the best 10 of the whole catalog)"
        )
        stdout.print(_segment_table(title, report["click_model"], CLICK_METRICS, report["k"]))
    stdout.print(_recall_table(report))
    stdout.print(_personalisation_table(report))
    stdout.print(
        "popularity: most positive interactions before the window, minus what the user has seen; "
        "a path alone: that path asked for the whole candidate set; stage 1: the merged candidate "
        "order; two stages: re-ranked by the model; served: that order after the business rules "
        "(what the API answers; their cost is in each table's title)"
    )
    return 0


def _label(name: str) -> str:
    return LABELS.get(name, f"{name} alone")


def _cell(entry: dict[str, float]) -> str:
    return f"{entry['mean']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"


def _segment_table(title: str, data: dict[str, Any], metrics: tuple[str, ...], k: int) -> Table:
    lift = data["lift"]
    table = Table(
        "list",
        *(f"{m}@{k}" for m in metrics),
        "coverage",
        title=(
            f"{title}: mean [95 % bootstrap interval]; two stages vs the strongest baseline "
            f"({_label(data['strongest_baseline'])}): "
            f"{lift['mean']:+.1%} [{lift['low']:+.1%}, {lift['high']:+.1%}]; the business rules "
            f"change it by {data['rules_cost']:+.1%}"
        ),
        title_justify="left",
    )
    for name, entry in data["lists"].items():
        style = "bold" if name == TWO_STAGE else ""
        table.add_row(
            _label(name), *(_cell(entry[m]) for m in metrics), f"{entry['coverage']:.2%}", style=style
        )
    return table


def _personalisation_table(report: dict[str, Any]) -> Table:
    data = report["segments"]["all"]["personalisation"]
    table = Table(
        "list",
        "distinct items",
        "pairwise overlap",
        "slots from ANN or history",
        "found by each path (alone)",
        title=f"how personal (all users): distinct items over the users' top {report['k']}, mean "
        "Jaccard overlap of two users' lists, and which paths filled the slots",
        title_justify="left",
    )
    for name, entry in data.items():
        paths = entry.get("paths")
        by_path = (
            ", ".join(
                f"{path} {share['found']:.0%} ({share['alone']:.0%})"
                for path, share in paths.items()
                if isinstance(share, dict) and share["found"] > 0
            )
            if paths
            else ""
        )
        table.add_row(
            _label(name),
            f"{entry['distinct_items']:,}",
            f"{entry['mean_pairwise_jaccard']:.3f}",
            f"{paths['ann_or_history']:.0%}" if paths else "",
            by_path,
            style="bold" if name == TWO_STAGE else "",
        )
    return table


def _recall_table(report: dict[str, Any]) -> Table:
    data = report["segments"]["all"]
    table = Table(
        "candidates",
        *(str(size) for size in report["sizes"]),
        title="candidate recall (all users): share of each user's held-out positives in the candidate set",
        title_justify="left",
    )
    for name, values in data["candidate_recall"].items():
        label = "merged (all paths)" if name == "merged" else f"{name} alone"
        table.add_row(label, *(f"{v:.3f}" for v in values), style="bold" if name == "merged" else "")
    return table
