"""The `twostage` command as a user runs it: exit codes, JSON output, clear errors."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main, parser
from engine.ann import grid_axes
from engine.retrieval.registry import PATHS
from tests.conftest import SMALL


def small(data_dir: Path, config: Path) -> list[str]:
    """The options that point a command at the test data set and its quick configuration."""
    return ["--data-dir", str(data_dir), "--config", str(config)]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_candidates_json(capsys, small_dir: Path) -> None:
    code, out, _ = run(
        capsys, "candidates", "--user", "3", "--candidates", "50", "--data-dir", str(small_dir), "--json"
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["n_candidates"] == 50 and len(payload["candidates"]) == 50
    assert payload["candidates"][0]["rank"] == 1 and payload["candidates"][0]["paths"]
    assert set(payload["timings_ms"]) >= {"ann", "history", "trending", "promoted", "merge", "retrieval"}
    assert 0 <= payload["ann_recall"] <= 1


def test_candidates_table_shows_provenance_and_recall(capsys, small_dir: Path) -> None:
    argv = ["candidates", "--user", "3", "--backend", "faiss-ivf", "--param", "nprobe=2", "--show", "5"]
    code, out, _ = run(capsys, *argv, "--data-dir", str(small_dir))
    assert code == 0
    assert "nprobe=2" in out and "found by path" in out and "recall@" in out and "timings (ms)" in out


def test_ann_bench_json_has_a_row_per_setting(capsys, small_dir: Path) -> None:
    argv = ["ann-bench", "--backend", "faiss-ivf", "--k", "20", "--queries", "10", "--json"]
    code, out, _ = run(capsys, *argv, "--data-dir", str(small_dir))
    assert code == 0
    rows = json.loads(out)["rows"]
    assert [r["params"]["nprobe"] for r in rows] == grid_axes("faiss-ivf")["nprobe"]
    assert len(rows) >= 8
    assert rows[0]["recall"] < rows[-1]["recall"] <= 1.0
    assert all(r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"] and r["qps"] > 0 for r in rows)


def test_ann_bench_table_draws_the_curve(capsys, small_dir: Path) -> None:
    code, out, _ = run(capsys, "ann-bench", "--k", "20", "--queries", "5", "--data-dir", str(small_dir))
    assert code == 0
    assert "recall@20" in out and "p50 latency per query (ms)" in out and "faiss-hnsw" in out


def test_backends_json(capsys) -> None:
    code, out, _ = run(capsys, "backends", "--json")
    assert code == 0
    assert {row["name"] for row in json.loads(out) if row["available"]} >= {"exact", "faiss-hnsw"}


def test_build_keeps_what_exists_and_refuses_other_sizes(
    capsys, small_dir: Path, small_config: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "data"
    shutil.copytree(small_dir, copy)
    code, out, _ = run(capsys, "build", "--data-dir", str(copy), "--config", str(small_config), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["dataset"] == "kept" and report["indexes"]["faiss-hnsw"]["status"] == "kept"
    assert report["model"]["status"] == "kept"
    code, _, err = run(capsys, "build", "--data-dir", str(copy), "--items", str(SMALL.n_items + 1))
    assert code == 1 and "generated with other parameters" in err and "--force" in err


def test_build_from_scratch_with_one_backend(capsys, small_config: Path, tmp_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "build",
        "--config",
        str(small_config),
        "--data-dir",
        str(tmp_path),
        "--items",
        "500",
        "--users",
        "50",
        "--dim",
        "8",
        "--categories",
        "4",
        "--backends",
        "faiss-ivf",
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["dataset"] == "built" and list(report["indexes"]) == ["faiss-ivf"]
    assert (tmp_path / "indexes" / "faiss-ivf" / "manifest.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["candidates", "--user", "1", "--backend", "annoy"], "unknown backend 'annoy'"),
        (["candidates", "--user", "1", "--candidates", "0"], "number of candidates must be"),
        (["candidates", "--user", "1", "--param", "efSearch"], "takes NAME=INTEGER"),
        (["ann-bench", "--k", "0"], "k must be between 1 and"),
        (["build", "--backends", "annoy"], "unknown backend 'annoy'"),
        (["build", "--items", "5"], "n_items must be in"),
    ],
)
def test_errors_are_one_clear_line(capsys, small_dir: Path, argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv, "--data-dir", str(small_dir))
    assert code in (1, 2)
    assert message in err and "Traceback" not in err and out == ""


def test_missing_data_dir_tells_the_user_to_build(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "candidates", "--user", "1", "--data-dir", str(tmp_path / "empty"))
    assert code == 1 and "run `twostage build`" in err


def test_bad_config_key_is_named(capsys, small_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[retrieval]\nbackendd = 'exact'\n")
    code, _, err = run(
        capsys, "candidates", "--user", "1", "--data-dir", str(small_dir), "--config", str(config)
    )
    assert code == 1 and "unknown key 'retrieval.backendd'" in err


def test_installed_console_script_runs(small_dir: Path) -> None:
    script = Path(sys.executable).parent / "twostage"
    if not script.exists():
        pytest.skip("the twostage console script is not installed next to this Python; pip install -e .")
    done = subprocess.run(
        [
            str(script),
            "candidates",
            "--user",
            "2",
            "--candidates",
            "10",
            "--data-dir",
            str(small_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["n_candidates"] == 10
    failed = subprocess.run(
        [str(script), "candidates", "--user", "2", "--data-dir", str(small_dir), "--backend", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1 and "unknown backend 'nope'" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_bench_json_reports_every_stage(capsys, small_dir: Path, small_config: Path) -> None:
    code, out, _ = run(
        capsys,
        "bench",
        "--requests",
        "30",
        "--candidates",
        "100",
        *small(small_dir, small_config),
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    assert result["requests"] == 30 and result["n_candidates"] == 100 and result["backend"] == "faiss-ivf"
    manifest = json.loads((small_dir / "model" / "manifest.json").read_text())
    assert result["n_features"] >= 60 and result["degraded_requests"] == 0
    assert result["trees"] == manifest["trees"] == manifest["report"]["trees"] <= 40
    stages, parts = result["stages"], result["retrieval_parts"]
    # Data keys name stages plainly; which ones are steps of retrieval is data too.
    assert list(stages) == ["retrieval", *parts, "features", "model", "rules", "total"]
    assert parts == ["resolve", "ann", "history", "covisit", "popular", "trending", "promoted", "merge"]
    # Retrieval is the sum of its steps in every request, so its worst is at most theirs added.
    assert stages["retrieval"]["max_ms"] <= sum(stages[p]["max_ms"] for p in parts) + 1e-6
    assert stages["retrieval"]["p50_ms"] >= stages["ann"]["p50_ms"]
    # a stage inside another is never longer in any request, so neither is its median (medians
    # of two stages do not add up, so the total is only compared with each)
    assert stages["total"]["p50_ms"] >= max(stages["model"]["p50_ms"], stages["features"]["p50_ms"])
    bare = result["bare"]
    assert bare["ann_bare_ms"] > 0 and bare["model_bare_ms"] > 0
    assert result["requests_per_second"] > 0 and 0 < result["ann_recall"] <= 1


def test_bench_refuses_zero_requests(capsys, small_dir: Path) -> None:
    code, _, err = run(capsys, "bench", "--requests", "0", "--data-dir", str(small_dir))
    assert code == 1 and "number of requests must be at least 1" in err


def test_bench_idles_before_each_request_when_asked(capsys, small_dir: Path, small_config: Path) -> None:
    argv = ["bench", "--requests", "10", "--candidates", "50", *small(small_dir, small_config)]
    code, out, _ = run(capsys, *argv, "--idle-ms", "20", "--json")
    assert code == 0 and json.loads(out)["idle_ms"] == 20
    # The idle spells are not engine work: counted, 10 x 20 ms would hold it under 50 per second.
    assert json.loads(out)["requests_per_second"] > 50
    code, _, err = run(capsys, *argv, "--idle-ms", "-1")
    assert code == 1 and "idle time before each request must be at least 0 ms, got -1" in err


def test_recommend_json_and_explain(capsys, small_dir: Path, small_config: Path) -> None:
    code, out, _ = run(
        capsys,
        "recommend",
        "--user",
        "5",
        "--k",
        "5",
        "--category",
        "books",
        "--explain",
        *small(small_dir, small_config),
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert len(payload["items"]) == 5 and payload["items"][0]["rank_after"] == 1
    assert {"rank_before", "rank_change", "found_by", "rules", "score"} <= set(payload["items"][0])
    assert [v["stage"] for v in payload["verdicts"]] == ["retrieval", "features", "model", "buffer", "total"]
    assert len(payload["explanations"]) == 2 and payload["explanations"][1]["other_id"] is not None
    code, out, _ = run(
        capsys,
        "recommend",
        "--user",
        "5",
        "--explain",
        *small(small_dir, small_config),
    )
    assert code == 0 and "why " in out and "ranks above" in out and "timings:" in out


def test_recommend_unknown_category_is_named(capsys, small_dir: Path) -> None:
    code, _, err = run(
        capsys, "recommend", "--user", "5", "--category", "Spaceships", "--data-dir", str(small_dir)
    )
    assert code == 1 and "unknown category 'Spaceships'; choose one of: Books" in err


def test_eval_judges_every_list_end_to_end(capsys, small_dir: Path, small_config: Path) -> None:
    args = ("eval", "--users", "150", "--data-dir", str(small_dir), "--config", str(small_config))
    code, out, _ = run(capsys, *args, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["judged_users"] == 150 < report["test_users"] and report["k"] == 10
    everyone = report["segments"]["all"]
    assert (
        everyone["users"] == 150 == report["segments"]["warm"]["users"] + report["segments"]["cold"]["users"]
    )
    assert set(everyone["lists"]) == {"popularity", *PATHS, "stage-1", "two-stage", "served"}
    assert -1 <= everyone["rules_cost"] <= 1
    for entry in everyone["lists"].values():
        for metric in ("ndcg", "recall", "mrr"):
            assert entry[metric]["low"] <= entry[metric]["mean"] <= entry[metric]["high"]
        assert 0 < entry["coverage"] <= 1 or entry is everyone["lists"]["promoted"]
    lift = everyone["lift"]
    assert everyone["strongest_baseline"] != "two-stage" and lift["low"] <= lift["mean"] <= lift["high"]
    recall = everyone["candidate_recall"]
    assert len(recall["merged"]) == len(report["sizes"]) == 7
    for path in PATHS:  # a path alone at a larger size keeps its smaller list as a prefix
        assert all(a <= b for a, b in zip(recall[path], recall[path][1:], strict=False)), path
    personal = everyone["personalisation"]
    assert set(personal) == set(everyone["lists"])
    for name, entry in personal.items():
        shown = everyone["users"] * report["k"]
        assert 0 < entry["distinct_items"] <= shown or name == "promoted", name
        assert 0 <= entry["mean_pairwise_jaccard"] <= 1 or name == "promoted", name
    two = personal["two-stage"]["paths"]
    assert set(two) == {*PATHS, "ann_or_history"}
    assert max(two[path]["found"] for path in PATHS) > 0 and all(
        0 <= two[path]["alone"] <= two[path]["found"] <= 1 for path in PATHS
    )
    assert two["ann_or_history"] >= max(two["ann"]["found"], two["history"]["found"])
    # On synthetic data the generator's click model judges too: re-ranking beats stage 1.
    click = report["click_model"]["lists"]
    assert click["two-stage"]["ndcg"]["mean"] > click["stage-1"]["ndcg"]["mean"]
    code, out, _ = run(capsys, *args)
    assert code == 0 and "candidate recall" in out and "click model" in out and "how personal" in out


def test_sweep_json_and_png(capsys, small_dir: Path, small_config: Path, tmp_path: Path) -> None:
    png = tmp_path / "sweep.png"
    code, out, _ = run(
        capsys,
        "sweep",
        "--users",
        "12",
        "--png",
        str(png),
        "--judge",
        "click-model",
        *small(small_dir, small_config),
        "--json",
    )
    assert code == 0
    sweep = json.loads(out)
    assert [r["size"] for r in sweep["rows"]] == [10, 20, 50, 100, 200, 500, 1000]
    assert sweep["ground_truth"] == "the generator's click model" and sweep["users"] == 12
    assert all(0 <= r["ndcg"] <= 1 and r["p99_ms"] >= r["p50_ms"] > 0 for r in sweep["rows"])
    assert all(r["ndcg"] > r["stage1_ndcg"] for r in sweep["rows"]), "re-ranking beats the stage-1 order"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(capsys, "sweep", "--users", "5", *small(small_dir, small_config), "--json")
    held_out = json.loads(out)
    assert code == 0 and held_out["ground_truth"] == "positive interactions in the test window"
    assert held_out["second_metric"] == "recall", "eval's judge unless told otherwise"
    code, _, err = run(capsys, "sweep", "--png", str(tmp_path / "x.jpg"), "--data-dir", str(small_dir))
    assert code == 1 and "ending in .png" in err


def test_the_cli_does_not_import_locust() -> None:
    """Importing Locust monkey-patches the process with gevent; only locustfiles may do it."""
    probe = "import sys, cli.main; print('locust' in sys.modules or 'gevent' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_bench_refuses_a_negative_number_of_live_events(capsys, small_dir: Path, small_config: Path) -> None:
    code, _, err = run(
        capsys, "bench", "--live-events", "-1", "--data-dir", str(small_dir), "--config", str(small_config)
    )
    assert code == 1 and "of live events at least 0, got 1000, -1" in " ".join(err.split())


def test_fidelity_compares_the_engine_the_app_and_the_server(small_dir, small_config, capsys) -> None:
    """The same requests through the engine, the headless app and a served worker."""
    argv = ["fidelity", "--users", "6", "--data-dir", str(small_dir), "--config", str(small_config), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["users"] == 6
    assert set(report["p50_ms"]) == {"engine", "engine_paced", "app", "server"}
    for client, stages in report["p50_ms"].items():
        assert set(stages) == {"retrieval", "features", "model", "total"}
        assert 0 < stages["retrieval"] < stages["total"] < 1000, client
    assert report["server_round_trip_p50_ms"] > report["p50_ms"]["server"]["total"]
    assert report["server_queue_p50_ms"] >= 0  # how it compares with the stages is a speed


def test_fidelity_refuses_no_users(small_dir, capsys) -> None:
    assert main(["fidelity", "--users", "0", "--data-dir", str(small_dir)]) == 1
    assert "--users must be at least 1, got 0" in capsys.readouterr().err


def test_compare_two_settings_for_one_user(capsys, small_dir: Path, small_config: Path) -> None:
    argv = ["compare", "--user", "3", "--backend", "faiss-ivf", "--param", "nprobe=1", "--with", "exact"]
    argv.append("--json")
    code, out, _ = run(capsys, *argv, *small(small_dir, small_config))
    assert code == 0
    result = json.loads(out)
    assert result["a"]["label"] == "faiss-ivf nprobe=1" and result["b"]["label"] == "exact"
    assert result["b"]["recall"] == 1.0 and result["a"]["recall"] < 1.0
    assert result["shared_ann"] < result["ann_k"] == 500
    code, out, _ = run(capsys, *argv[:-1], *small(small_dir, small_config))  # as a table
    assert code == 0 and "shared:" in out and "ANN recall@500" in out
    code, _, err = run(capsys, "compare", "--user", "3", "--with", "annoy", *small(small_dir, small_config))
    assert code == 1 and "unknown backend 'annoy'" in err


def test_every_help_page_renders_and_the_readme_lists_each_command_as_it_is() -> None:
    """`--help` of the command and of each subcommand renders (a stray % in a help text used to
    crash it), and the README's command table and its claim about `--data-dir` match them."""
    root = parser()
    commands = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction)).choices
    pages = {name: sub.format_help() for name, sub in commands.items()}
    assert "95 % intervals" in root.format_help()
    assert all(page.startswith(f"usage: twostage {name}") for name, page in pages.items())
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    listed = re.findall(r"^\| `twostage ([a-z-]+)", readme, flags=re.MULTILINE)
    assert listed == list(commands), "the README lists every command once, in --help's order"
    without = sorted(name for name, page in pages.items() if "--data-dir" not in page)
    assert without == ["ann-scale"] and "every\ncommand but `ann-scale` takes `--data-dir DIR`" in readme
