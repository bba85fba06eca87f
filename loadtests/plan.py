"""The load test's data (scenario mix, shapes) and its verdict, kept apart from Locust so both
locustfiles share them and tests can check them without starting Locust."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from engine.config import BudgetConfig
from engine.errors import ConfigError
from engine.latency import QUEUE

#: what the verdict judges: the engine's stages (the budget's own table, less the buffer,
#: which is what is left of the total) and "recommend", the client-measured call, against
#: the total budget
JUDGED = ("retrieval", "features", "model", "total", "recommend")


def stage_budget(budget: BudgetConfig, stage: str) -> float:
    return budget.total_ms if stage == "recommend" else budget.stages()[stage]


STAGE_TYPE = "stage"
#: how `twostage loadtest` passes settings to the Locust processes
SHAPE_ENV = "TWOSTAGE_SHAPE"
PACE_ENV = "TWOSTAGE_PACE"
BACKEND_ENV = "TWOSTAGE_BACKEND"

CALL_TYPE = "engine"
EVENTS = ("click", "purchase")  # what a task may record after its request


@dataclass(frozen=True)
class Task:
    name: str
    weight: int
    users: str
    candidates: tuple[int, ...]
    context: bool
    event: str | None = None  # after the request, click or buy one of the items it returned


@dataclass(frozen=True)
class Scenario:
    think_min: float
    think_max: float
    tasks: tuple[Task, ...]


def _read(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("loadtests").joinpath(name).read_text())


def scenario() -> Scenario:
    data = _read("scenarios.toml")
    tasks = []
    for name, task in data["tasks"].items():
        if task.get("users") not in ("active", "any", "new"):
            raise ConfigError(
                f"scenarios.toml: task {name} has users = {task.get('users')!r}; use active, any or new"
            )
        if task.get("event") not in (None, *EVENTS):
            raise ConfigError(
                f"scenarios.toml: task {name} has event = {task.get('event')!r}; "
                f"use one of {', '.join(EVENTS)}"
            )
        tasks.append(
            Task(
                name,
                int(task["weight"]),
                task["users"],
                tuple(task["candidates"]),
                bool(task.get("context")),
                task.get("event"),
            )
        )
    think = data["think_time"]
    return Scenario(float(think["min_seconds"]), float(think["max_seconds"]), tuple(tasks))


def shape(name: str) -> list[dict[str, float]]:
    shapes = _read("shapes.toml")
    if name not in shapes:
        raise ConfigError(f"unknown load shape '{name}'; choose one of: {', '.join(shapes)}")
    return list(shapes[name]["stages"])


def shape_tick(stages: list[dict[str, float]], run_time: float) -> tuple[int, float] | None:
    """(users, spawn rate) for this moment of a staged shape, or None when it is over."""
    for stage in stages:
        if run_time < stage["until"]:
            return int(stage["users"]), float(stage["spawn_rate"])
    return None


def pick_user(kind: str, n_users: int, active: np.ndarray, rng: np.random.Generator) -> int:
    if kind == "new":
        return int(n_users + rng.integers(0, 10**6))
    if kind == "active" and len(active):
        return int(rng.choice(active))
    return int(rng.integers(0, n_users))


@dataclass(frozen=True)
class VerdictRow:
    stage: str
    requests: int
    p99_ms: float
    budget_ms: float

    @property
    def ok(self) -> bool:
        return self.p99_ms <= self.budget_ms


def judge(
    p99_by_stage: dict[str, tuple[int, float]], failures: int, budget: BudgetConfig
) -> tuple[list[VerdictRow], bool]:
    """Rows for every judged stage seen (p99 against its budget); passes when all are within
    budget and nothing failed."""
    rows = [
        VerdictRow(stage, count, p99, stage_budget(budget, stage))
        for stage, (count, p99) in p99_by_stage.items()
        if stage in JUDGED
    ]
    return rows, bool(rows) and all(row.ok for row in rows) and failures == 0


def verdict_text(
    rows: list[VerdictRow], failures: int, passed: bool, queue: tuple[int, float] | None = None
) -> str:
    """The verdict table; `queue` (requests, p99 ms) is the servers' wait for the engine,
    shown beside the stages but not judged: it measures load, not the engine."""
    lines = ["", "twostage budget verdict (p99 per stage against its budget)"]
    lines.append(f"  {'stage':<10} {'requests':>9} {'p99 ms':>9} {'budget':>8}  verdict")
    for row in rows:
        mark = "ok" if row.ok else "MISSED"
        lines.append(f"  {row.stage:<10} {row.requests:>9} {row.p99_ms:>9.2f} {row.budget_ms:>8g}  {mark}")
    if queue is not None:
        lines.append(f"  {QUEUE:<10} {queue[0]:>9} {queue[1]:>9.2f} {'-':>8}  (waiting for the engine)")
    lines.append(f"  failed requests: {failures}")
    lines.append(f"  => {'PASS' if passed else 'FAIL'}")
    return "\n".join(lines)
