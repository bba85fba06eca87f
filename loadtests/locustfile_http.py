"""HTTP load test: Locust users call `twostage serve`'s /recommend.

Run against a server you started (`twostage serve --workers 2`), e.g.
`twostage loadtest --http http://127.0.0.1:8000`. The server's per-stage timings come back
in each response and are reported as Locust rows too, next to the client-side round trip.
"""

from __future__ import annotations

import numpy as np
from locust import FastHttpUser, events

from loadtests.common import backend, fire_stages, pacing, staged_shape
from loadtests.plan import QUEUE, pick_user, scenario

SCENARIO = scenario()
BACKEND = backend()
StagedShape = staged_shape()  # Locust runs a LoadTestShape it finds in the locustfile
INFO: dict = {}


@events.test_start.add_listener
def _catalog_size(environment, **_kwargs) -> None:
    """What the generators need to know of the data: sizes and some active users."""
    import httpx

    INFO.update(httpx.get(f"{environment.host}/health", timeout=30).json())


def _task(spec):
    def run(user: HttpShopper) -> None:
        user._run(spec)

    run.__name__ = spec.name
    return run


class HttpShopper(FastHttpUser):
    """The scenario mix of scenarios.toml, over HTTP. FastHttpUser (geventhttpclient) spends far
    less CPU per request than HttpUser (requests): Locust shares the cores with the server."""

    wait_time = pacing(SCENARIO.think_min, SCENARIO.think_max)
    # In the class body: Locust reads the weights when it creates the class; a dict assigned
    # afterwards has its weights ignored (every task equally likely).
    tasks = {_task(spec): spec.weight for spec in SCENARIO.tasks}

    def on_start(self) -> None:
        self.rng = np.random.default_rng()
        self.active = np.array(INFO.get("active_users", []), dtype=np.int64)

    def _run(self, spec) -> None:
        body = {
            "user_id": pick_user(spec.users, INFO["users"], self.active, self.rng),
            "n_candidates": min(int(self.rng.choice(spec.candidates)), INFO["items"]),
            "include": ["timings"],
        }
        if BACKEND is not None:
            body["backend"] = BACKEND
        if spec.context:
            body["context"] = {
                "category": int(self.rng.integers(0, INFO["categories"])),
                "hour": float(self.rng.uniform(0, 24)),
            }
        with self.client.post("/recommend", json=body, name="recommend", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            payload = response.json()
            if not payload.get("items"):
                response.failure("no items")
                return
            fire_stages(self.environment, {**payload["timings_ms"], QUEUE: payload["queue_ms"]})
        if spec.event and not payload["cold_start"]:
            item = payload["items"][int(self.rng.integers(0, len(payload["items"])))]["item_id"]
            event = {"user_id": body["user_id"], "item_id": item, "kind": spec.event}
            with self.client.post("/events", json=event, name="event", catch_response=True) as response:
                if response.status_code != 202:
                    response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
