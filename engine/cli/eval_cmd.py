"""`twostage eval`: offline quality of the stage-1 order against the re-ranked order."""

from __future__ import annotations

import argparse

from rich.table import Table

from engine.cli.common import add_common, config_of, emit_json, layout_of, progress_bars, stdout
from engine.engine import Engine
from engine.ranking.training import Splits, evaluate


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="NDCG@10, recall@10 and MRR on the test split, before and after re-ranking"
    )
    add_common(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    engine = Engine.open(layout_of(args).root, config)
    with progress_bars() as progress:
        report = evaluate(engine.dataset, engine.reranker, config.model, progress=progress)
    splits = Splits.of(engine.dataset)
    if args.json:
        emit_json({"splits": splits.__dict__, **report})
        return 0
    days = (splits.end - splits.test_from) / 86_400
    table = Table(
        "metric",
        "popularity",
        "stage-1 order",
        "re-ranked",
        "lift vs stage 1",
        title=(
            f"test split: last {days:.0f} days, {report['reranked']['groups']:,} users, "
            f"{report['rows']:,} rows (their impressions plus random unseen items)"
        ),
        title_justify="left",
    )
    for metric in ("ndcg@10", "recall@10", "mrr"):
        lift = report["lift"][metric]
        table.add_row(
            metric,
            f"{report['popularity'][metric]:.4f}",
            f"{report['stage1'][metric]:.4f}",
            f"{report['reranked'][metric]:.4f}",
            f"[{'green' if lift > 0 else 'red'}]{lift:+.1%}[/]",
        )
    stdout.print(table)
    stdout.print(
        "popularity: by positive interactions so far; stage-1 order: by embedding similarity "
        "(the ANN path's score); re-ranked: the CatBoost model"
    )
    return 0
