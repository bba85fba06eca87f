"""Load tests: the plan's data and verdict, and short real Locust runs (in-process and HTTP)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import BudgetConfig
from engine.errors import ConfigError
from loadtests.plan import judge, scenario, shape, shape_tick, verdict_text
from tests.conftest import answering, eventually, free_port


def test_scenario_and_shapes_are_data() -> None:
    mix = scenario()
    assert {task.users for task in mix.tasks} == {"active", "any", "new"}
    assert any(task.context for task in mix.tasks) and 0 < mix.think_min <= mix.think_max
    assert {task.event for task in mix.tasks} == {None, "click", "purchase"}
    for name in ("step", "spike", "soak"):
        stages = shape(name)
        assert shape_tick(stages, 0.0) == (int(stages[0]["users"]), float(stages[0]["spawn_rate"]))
        assert shape_tick(stages, stages[-1]["until"] + 1) is None
    with pytest.raises(ConfigError, match="unknown load shape 'ramp'; choose one of: step, spike, soak"):
        shape("ramp")


def test_verdict_passes_within_budget_and_fails_otherwise() -> None:
    budget = BudgetConfig()
    rows, passed = judge({"retrieval": (50, 4.0), "model": (50, 12.0), "total": (50, 30.0)}, 0, budget)
    assert passed and [r.stage for r in rows] == ["retrieval", "model", "total"]
    _, missed = judge({"retrieval": (50, 11.0), "total": (50, 30.0)}, 0, budget)
    _, failing = judge({"total": (50, 30.0)}, 3, budget)
    assert not missed and not failing
    text = verdict_text(judge({"retrieval": (5, 11.0)}, 0, budget)[0], 0, False)
    assert "MISSED" in text and "FAIL" in text
    waited = verdict_text(rows, 0, True, queue=(50, 80.0))
    assert "queue" in waited and "80.00" in waited and "PASS" in waited, "shown, not judged"


#: Budgets no machine misses: these runs test what is recorded and how the verdict is
#: reached, not this machine's speed (that is `twostage loadtest`'s job, as a benchmark).
ROOMY_BUDGET = (
    "[budget]\nann_ms = 10000\nfeatures_ms = 10000\nmodel_ms = 10000\nbuffer_ms = 10000\ntotal_ms = 40000\n"
)


def roomy(config: Path, tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "roomy.toml"
    path.write_text(config.read_text() + extra + ROOMY_BUDGET)
    return path


def _locust(args: list[str], small_dir: Path, config: Path, out: Path) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "cli.main",
        "loadtest",
        "--users",
        "2",
        "--spawn-rate",
        "2",
        "--duration",
        "4s",
        "--out",
        str(out),
        "--data-dir",
        str(small_dir),
        "--config",
        str(config),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def _rows(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(out / "stats_stats.csv") as handle:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}


def test_in_process_run_records_every_stage_and_passes(
    small_dir: Path, small_config: Path, tmp_path: Path
) -> None:
    sampled = roomy(small_config, tmp_path, "[retrieval]\nrecall_sample_rate = 1.0\n")
    # The exact backend for every request: the sampled recall must then be exactly 1.
    done = _locust(["--pace", "none", "--backend", "exact"], small_dir, sampled, tmp_path / "out")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "=> PASS" in done.stdout
    recall = re.search(r"sampled ANN recall vs exact search: ([0-9.]+) over (\d+) requests", done.stdout)
    assert recall and float(recall.group(1)) == 1.0 and int(recall.group(2)) > 0, done.stdout[-1000:]
    rows = _rows(tmp_path / "out")
    for stage in ("retrieval", "features", "model", "rules", "total"):
        assert int(rows[("stage", stage)]["Request Count"]) > 0, stage
    assert int(rows[("engine", "recommend")]["Failure Count"]) == 0
    events = rows[("engine", "event")]
    assert int(events["Request Count"]) > 0 and int(events["Failure Count"]) == 0, "clicks and purchases"
    requests = int(rows[("engine", "recommend")]["Request Count"]) + int(events["Request Count"])
    assert int(rows[("", "Aggregated")]["Request Count"]) == requests, "stage rows are not requests"
    assert (tmp_path / "out" / "report.html").exists()


def test_an_unknown_backend_is_refused_before_locust_starts(
    small_dir: Path, small_config: Path, tmp_path: Path
) -> None:
    done = _locust(["--backend", "annoy"], small_dir, small_config, tmp_path / "out")
    assert done.returncode == 1 and "unknown backend 'annoy'" in done.stderr, done.stderr[-1000:]
    assert "locust:" not in done.stderr, "refused before Locust was started"


def test_a_tiny_budget_fails_the_run(small_dir: Path, small_config: Path, tmp_path: Path) -> None:
    tight = tmp_path / "tight.toml"
    tight.write_text(
        small_config.read_text() + "[budget]\nann_ms = 0.001\nfeatures_ms = 0.001\n"
        "model_ms = 0.001\nbuffer_ms = 0.001\ntotal_ms = 0.01\n"
    )
    done = _locust([], small_dir, tight, tmp_path / "out")
    assert done.returncode == 1 and "MISSED" in done.stdout and "=> FAIL" in done.stdout


def test_http_run_against_a_two_worker_server(
    small_dir: Path, small_config: Path, tmp_path: Path, redis_server
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--events",
            redis_server.url,
            "--data-dir",
            str(small_dir),
            "--config",
            str(small_config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        eventually(answering(f"http://127.0.0.1:{port}/health"), "the server answering", timeout=30)
        # The server's own budget is the default; the verdict judges with the client's config.
        config = roomy(small_config, tmp_path)
        done = _locust(["--http", f"http://127.0.0.1:{port}"], small_dir, config, tmp_path / "out")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        rows = _rows(tmp_path / "out")
        assert int(rows[("POST", "recommend")]["Request Count"]) > 0
        assert int(rows[("POST", "recommend")]["Failure Count"]) == 0
        assert int(rows[("stage", "model")]["Request Count"]) > 0
        queue = rows[("stage", "queue")]
        assert int(queue["Request Count"]) == int(rows[("POST", "recommend")]["Request Count"])
        assert "(waiting for the engine)" in done.stdout
        assert all(int(row["Failure Count"]) == 0 for key, row in rows.items() if key == ("POST", "event"))
    finally:
        server.terminate()
        server.wait(timeout=30)
