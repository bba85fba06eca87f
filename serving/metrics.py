"""The server's metrics: per-stage latency percentiles, request and event counts, and the
sampled ANN recall, for this worker or, with the Redis event store, for every worker at once.

With Redis each worker's writer thread puts its samples (never on the request's path) into
capped lists every worker reads, so `/metrics` answers the same whichever worker serves
it. The same numbers are served in Prometheus's text format.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any

import numpy as np

from engine.latency import HISTORY, QUEUE, RECORDED, STAGES, SessionStats
from engine.live_store import redis_prefix
from engine.retrieval.recall import RecallSampler

QUANTILES = (("p50", 50), ("p95", 95), ("p99", 99))
FLUSH_TIMEOUT_S = 1.0


class LocalMetrics:
    """One worker's samples (the embedded event store serves one worker)."""

    scope = "this worker"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats = SessionStats()
        self._counts = {"requests": 0, "events": 0}

    def add_request(self, ms_by_stage: dict[str, float]) -> None:
        with self._lock:
            self._stats.add(ms_by_stage)
            self._counts["requests"] += 1

    def add_event(self) -> None:
        with self._lock:
            self._counts["events"] += 1

    def snapshot(self) -> tuple[dict[str, list[float]], dict[str, int]]:
        with self._lock:
            return {s: list(v) for s, v in self._stats.samples.items()}, dict(self._counts)

    def add_recall(self, sampler: RecallSampler, recall: float | None) -> None:
        sampler.add(recall)

    def recall(self, sampler: RecallSampler) -> dict[str, Any]:
        return sampler.summary()


class SharedMetrics:
    """Every worker's samples in Redis: the last HISTORY per stage, and counters."""

    scope = "every worker"

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._error = redis.RedisError
        self._prefix = f"{redis_prefix(namespace)}:metrics"
        self._fallback = LocalMetrics()
        self._pending: queue.SimpleQueue[dict[str, float]] = queue.SimpleQueue()
        self._written = threading.Condition()
        self._unwritten = 0
        threading.Thread(target=self._write_samples, name="metrics-writer", daemon=True).start()

    def add_request(self, ms_by_stage: dict[str, float]) -> None:
        """Never waits for Redis: the sample goes to a writer thread (called on the request's
        thread, after its response is encoded)."""
        self._fallback.add_request(ms_by_stage)
        with self._written:
            self._unwritten += 1
        self._pending.put(ms_by_stage)

    def _write_samples(self) -> None:
        while True:
            self._write(self._pending.get())
            with self._written:
                self._unwritten -= 1
                self._written.notify_all()

    def _flush(self) -> None:
        """Wait (a bounded time: Redis may hang) until this worker's answered requests are in
        Redis, so its own report never misses them."""
        with self._written:
            self._written.wait_for(lambda: self._unwritten == 0, timeout=FLUSH_TIMEOUT_S)

    def _write(self, ms_by_stage: dict[str, float]) -> None:
        try:
            pipe = self._client.pipeline(transaction=False)
            for stage in RECORDED:
                if stage in ms_by_stage:
                    pipe.lpush(f"{self._prefix}:{stage}", float(ms_by_stage[stage]))
                    pipe.ltrim(f"{self._prefix}:{stage}", 0, HISTORY - 1)
            pipe.incr(f"{self._prefix}:requests")
            pipe.execute()
        except self._error:
            pass  # metrics must never fail a request; this worker's own numbers remain

    def add_event(self) -> None:
        self._fallback.add_event()
        with contextlib.suppress(self._error):
            self._client.incr(f"{self._prefix}:events")

    def add_recall(self, sampler: RecallSampler, recall: float | None) -> None:
        sampler.add(recall)
        if recall is None:
            return
        with contextlib.suppress(self._error):
            pipe = self._client.pipeline(transaction=False)
            pipe.incrbyfloat(f"{self._prefix}:recall_sum", recall)
            pipe.incr(f"{self._prefix}:recall_count")
            pipe.execute()

    def recall(self, sampler: RecallSampler) -> dict[str, Any]:
        """The sampled recall over every worker (this worker's recent mean beside it)."""
        mine = sampler.summary()
        try:
            total, count = self._client.mget(f"{self._prefix}:recall_sum", f"{self._prefix}:recall_count")
        except self._error:
            return mine
        count = int(count or 0)
        return {**mine, "sampled": count, "mean": float(total) / count if count else None}

    def snapshot(self) -> tuple[dict[str, list[float]], dict[str, int]]:
        self._flush()
        try:
            pipe = self._client.pipeline(transaction=False)
            for stage in RECORDED:
                pipe.lrange(f"{self._prefix}:{stage}", 0, -1)
            pipe.get(f"{self._prefix}:requests")
            pipe.get(f"{self._prefix}:events")
            *lists, requests, events = pipe.execute()
        except self._error:
            return self._fallback.snapshot()
        samples = {stage: [float(v) for v in values] for stage, values in zip(RECORDED, lists, strict=True)}
        return samples, {"requests": int(requests or 0), "events": int(events or 0)}


def summary(metrics: LocalMetrics | SharedMetrics, budget: dict[str, float], recall: dict[str, Any]) -> dict:
    """The JSON `/metrics` serves."""
    samples, counts = metrics.snapshot()
    return {
        "scope": metrics.scope,
        **counts,
        "stages": {
            stage: {name: _percentile(samples[stage], q) for name, q in QUANTILES} for stage in STAGES
        },
        # waiting for the engine's turn, before any stage runs: its own figure, never in a stage
        "queue": {name: _percentile(samples.get(QUEUE, []), q) for name, q in QUANTILES},
        "budget_ms": budget,
        "ann_recall": recall,
    }


def prometheus_text(report: dict[str, Any]) -> str:
    """The same numbers in Prometheus's text exposition format."""
    lines = [
        "# HELP twostage_stage_milliseconds Latency of each stage over recent requests.",
        "# TYPE twostage_stage_milliseconds summary",
    ]
    for stage, quantiles in report["stages"].items():
        for name, q in QUANTILES:
            value = quantiles[name]
            if value is not None:
                lines.append(
                    f'twostage_stage_milliseconds{{stage="{stage}",quantile="{q / 100:g}"}} {value:.6g}'
                )
    lines += [
        "# HELP twostage_queue_milliseconds Time requests waited for the engine before any stage.",
        "# TYPE twostage_queue_milliseconds summary",
        *(
            f'twostage_queue_milliseconds{{quantile="{q / 100:g}"}} {report["queue"][name]:.6g}'
            for name, q in QUANTILES
            if report["queue"][name] is not None
        ),
    ]
    budget = report["budget_ms"]
    lines += [
        "# HELP twostage_requests_total Recommendations served.",
        "# TYPE twostage_requests_total counter",
        f"twostage_requests_total {report['requests']}",
        "# HELP twostage_events_total Live events recorded.",
        "# TYPE twostage_events_total counter",
        f"twostage_events_total {report['events']}",
        "# HELP twostage_stage_budget_milliseconds Each stage's latency budget.",
        "# TYPE twostage_stage_budget_milliseconds gauge",
        *(f'twostage_stage_budget_milliseconds{{stage="{k[:-3]}"}} {v:g}' for k, v in budget.items()),
    ]
    recall = report["ann_recall"]
    if recall.get("mean") is not None:
        lines += [
            "# HELP twostage_ann_recall Sampled recall of the ANN path against exact search.",
            "# TYPE twostage_ann_recall gauge",
            f"twostage_ann_recall {recall['mean']:.6g}",
            f"twostage_ann_recall_samples {recall['sampled']}",
        ]
    return "\n".join(lines) + "\n"


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None
