"""What every command shares: options, output (rich or JSON), progress bars, errors."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.config import EngineConfig, load_config
from engine.layout import ENV_VAR, Layout, default_data_dir
from engine.progress import Progress as ProgressFn

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


def add_common(parser: argparse.ArgumentParser, *, json_output: bool = True) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"data set and artifacts (default: ${ENV_VAR} or {default_data_dir()})",
    )
    parser.add_argument("--config", type=Path, default=None, help="engine configuration (TOML)")
    if json_output:
        parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def add_request_options(parser: argparse.ArgumentParser) -> None:
    """The options every per-user request command shares (candidates, recommend)."""
    parser.add_argument("--user", type=int, required=True, help="user id (unknown ids get a cold start)")
    parser.add_argument("--candidates", type=int, default=None, help="candidate-set size (default 500)")
    parser.add_argument("--backend", default=None, help="ANN backend (default from the configuration)")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="search parameter, e.g. nprobe=64"
    )


def request_fields(args: argparse.Namespace) -> dict[str, Any]:
    """What `add_request_options` read, as the fields both request types share."""
    return {
        "user_id": args.user,
        "n_candidates": args.candidates,
        "backend": args.backend,
        "search_params": key_values(args.param, "--param"),
        "measure_recall": True,
    }


def layout_of(args: argparse.Namespace) -> Layout:
    return Layout(args.data_dir or default_data_dir())


def config_of(args: argparse.Namespace) -> EngineConfig:
    return load_config(args.config)


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


@contextmanager
def progress_bars() -> Iterator[ProgressFn]:
    """Rich progress bars on stderr (stdout stays clean for --json), one per step name."""
    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=False) as bars:
        tasks: dict[str, Any] = {}

        def report(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bars.add_task(step, total=total)
            bars.update(tasks[step], completed=done, total=total)

        yield report


def key_values(pairs: list[str], option: str) -> dict[str, int]:
    """Parse `--param efSearch=128` style options into a dict of ints."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value.strip().lstrip("-").isdigit():
            raise argparse.ArgumentTypeError(
                f"{option} takes NAME=INTEGER (for example efSearch=128), got {pair!r}"
            )
        result[key.strip()] = int(value)
    return result


def mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


def model_summary(model: dict[str, Any]) -> str:
    """One line on the re-ranker a build trained or kept."""
    return (
        f"re-ranker: {model['status']} ({model['train_rows']:,} training rows in "
        f"{model['train_lists']:,} candidate lists with {model['train_positives']:,} positives; "
        f"{model['train_seconds']:.1f} s); `twostage eval` judges it end to end"
    )
