"""In-process load test: Locust users call `Engine.recommend` directly.

Engine calls hold the CPU (FAISS, CatBoost, numpy) and so block gevent: one process keeps
one user busy at a time however many it spawns. Scale with `locust --processes N` (one engine
per process) on one machine, or with `--master` / `--worker --master-host HOST` across
machines; `twostage loadtest` runs this file headless.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from locust import User, events

from engine.engine import Engine
from engine.requests import Context, RecommendRequest, RecommendResponse
from engine.retrieval.recall import RecallSampler
from loadtests.common import backend, fire_stages, pacing, staged_shape
from loadtests.plan import CALL_TYPE, pick_user, scenario

SCENARIO = scenario()
BACKEND = backend()
ENGINE: Engine | None = None
SAMPLER: RecallSampler | None = None
StagedShape = staged_shape()  # Locust runs a LoadTestShape it finds in the locustfile
T = TypeVar("T")


class EmptyResult(Exception):
    """A request that returned no items counts as a failure."""


@events.init.add_listener
def _open_engine(environment, **_kwargs) -> None:
    global ENGINE, SAMPLER
    ENGINE = Engine.from_environment()
    SAMPLER = RecallSampler(ENGINE.config.retrieval.recall_sample_rate)


@events.quitting.add_listener
def _report_recall(environment, **_kwargs) -> None:
    if SAMPLER is not None:
        summary = SAMPLER.summary()
        mean = "n/a" if summary["mean"] is None else f"{summary['mean']:.3f}"
        print(f"sampled ANN recall vs exact search: {mean} over {summary['sampled']} requests", flush=True)


class EngineClient:
    """Times each call and fires a request event for it and for each of its stages."""

    def __init__(self, environment, engine: Engine):
        self.environment, self.engine = environment, engine

    def _timed(self, name: str, context: dict, work: Callable[[], T]) -> T | None:
        """`work`'s result, its time (and failure) reported to Locust as one request; every
        failure is reported, none stops the user (None then)."""
        started = time.perf_counter()
        result, exception = None, None
        try:
            result = work()
        except Exception as error:
            exception = error
        self.environment.events.request.fire(
            request_type=CALL_TYPE,
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exception,
            context=context,
        )
        return result

    def record(self, user: int, item: int, kind: str) -> None:
        self._timed("event", {"kind": kind}, lambda: self.engine.record_event(user, item, kind))

    def recommend(self, request: RecommendRequest, name: str) -> RecommendResponse | None:
        def work() -> RecommendResponse:
            response = self.engine.recommend(request)
            if not response.items:
                raise EmptyResult(f"no items for user {request.user_id}")
            return response

        response = self._timed("recommend", {"task": name}, work)
        if response is None:
            return None
        fire_stages(self.environment, response.timings_ms)
        if SAMPLER is not None and SAMPLER.wants():  # after the timed call: not in its time
            SAMPLER.add(self.engine.measure_recall(response.candidates))
        return response


class EngineUser(User):
    """Base of in-process users: `self.client` is an EngineClient."""

    abstract = True

    def __init__(self, environment):
        super().__init__(environment)
        self.client = EngineClient(environment, ENGINE)
        self.rng = np.random.default_rng()
        self.active = ENGINE.users.most_active(max(1, ENGINE.users.n_users // 10))


def _task(spec):
    def run(user: EngineUser) -> None:
        engine = user.client.engine
        context = Context()
        if spec.context:
            context = Context(
                category=int(user.rng.integers(0, len(engine.catalog.category_names))),
                hour=float(user.rng.uniform(0, 24)),
            )
        request = RecommendRequest(
            user_id=pick_user(spec.users, engine.users.n_users, user.active, user.rng),
            n_candidates=min(int(user.rng.choice(spec.candidates)), engine.catalog.n_items),
            context=context,
            backend=BACKEND,
        )
        response = user.client.recommend(request, spec.name)
        if spec.event and response is not None and response.candidates.known_user:
            item = response.items[int(user.rng.integers(0, len(response.items)))].item_id
            user.client.record(request.user_id, item, spec.event)

    run.__name__ = spec.name
    return run


class Shopper(EngineUser):
    """The scenario mix of scenarios.toml, with its think time."""

    wait_time = pacing(SCENARIO.think_min, SCENARIO.think_max)
    tasks = {_task(spec): spec.weight for spec in SCENARIO.tasks}
