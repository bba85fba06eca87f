"""Locust plumbing both locustfiles share (importing Locust monkey-patches the process with
gevent, so only the locustfiles import this module): per-stage request events, the staged load shape,
and the `quitting` listener that turns a missed budget into a non-zero exit code."""

from __future__ import annotations

import os

from locust import LoadTestShape, between, constant, constant_throughput, events
from locust.runners import WorkerRunner

from engine.config import config_from_environment
from loadtests.plan import (
    BACKEND_ENV,
    CALL_TYPE,
    JUDGED,
    PACE_ENV,
    QUEUE,
    SHAPE_ENV,
    STAGE_TYPE,
    judge,
    shape,
    shape_tick,
    verdict_text,
)


def fire_stages(environment, timings_ms: dict[str, float]) -> None:
    """A report row per stage, so the report shows where time goes. Logged into the stage's
    own entry, not fired as a request: the "Aggregated" row then counts requests only."""
    for stage, ms in timings_ms.items():
        environment.stats.get(stage, STAGE_TYPE).log(ms, 0)


def pacing(think_min: float, think_max: float):
    """The scenario's think time, or $TWOSTAGE_PACE: "none" (no think time: find saturation)
    or a number (requests per second per user: load at a chosen share of saturation)."""
    pace = os.environ.get(PACE_ENV)
    if not pace:
        return between(think_min, think_max)
    if pace == "none":
        return constant(0)
    return constant_throughput(float(pace))


def backend() -> str | None:
    """The ANN backend `loadtest --backend` asked for (None: the engine's configured one)."""
    return os.environ.get(BACKEND_ENV) or None


def budget():
    return config_from_environment().budget


@events.quitting.add_listener
def _verdict(environment, **_kwargs) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master judges the aggregated numbers
    stats = environment.stats
    seen = {}
    for (name, method), entry in stats.entries.items():
        if method in (STAGE_TYPE, CALL_TYPE, "POST") and name in JUDGED and entry.num_requests:
            seen[name] = (entry.num_requests, float(entry.get_response_time_percentile(0.99)))
    rows, passed = judge(seen, stats.total.num_failures, budget())
    waited = stats.entries.get((QUEUE, STAGE_TYPE))
    queue = (waited.num_requests, float(waited.get_response_time_percentile(0.99))) if waited else None
    print(verdict_text(rows, stats.total.num_failures, passed, queue), flush=True)
    if not passed:
        environment.process_exit_code = 1


def staged_shape() -> type[LoadTestShape] | None:
    """The shape named by $TWOSTAGE_SHAPE (stages from shapes.toml), or None for a plain run
    (Locust then uses --users, --spawn-rate and --run-time)."""
    name = os.environ.get(SHAPE_ENV)
    if not name:
        return None
    stages = shape(name)

    class StagedShape(LoadTestShape):
        def tick(self):
            return shape_tick(stages, self.get_run_time())

    StagedShape.__name__ = f"StagedShape_{name}"
    return StagedShape
