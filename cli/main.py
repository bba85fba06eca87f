"""Entry point: parses arguments, runs one command, turns engine errors into clear messages."""

from __future__ import annotations

import argparse
import sys

from rich.text import Text

from cli import (
    ann_bench_cmd,
    backends_cmd,
    bench_cmd,
    build_cmd,
    candidates_cmd,
    compare_cmd,
    demo_cmd,
    eval_cmd,
    fidelity_cmd,
    import_cmd,
    loadtest_cmd,
    recommend_cmd,
    scale_cmd,
    serve_cmd,
    sweep_cmd,
)
from cli.common import stderr
from engine import __version__
from engine.errors import TwostageError

COMMANDS = (
    demo_cmd,
    build_cmd,
    import_cmd,
    recommend_cmd,
    candidates_cmd,
    compare_cmd,
    eval_cmd,
    bench_cmd,
    fidelity_cmd,
    sweep_cmd,
    ann_bench_cmd,
    scale_cmd,
    serve_cmd,
    loadtest_cmd,
    backends_cmd,
)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="twostage",
        description="A lab for two-stage retrieval: ANN candidates, then re-ranking, on a latency budget.",
    )
    root.add_argument("--version", action="version", version=f"twostage {__version__}")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except argparse.ArgumentTypeError as exc:
        stderr.print(Text.assemble(("error: ", "bold red"), str(exc)))
        return 2
    except TwostageError as exc:
        stderr.print(Text.assemble(("error: ", "bold red"), str(exc)))
        return 1
    except KeyboardInterrupt:
        stderr.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
