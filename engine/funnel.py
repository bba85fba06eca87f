"""The funnel of one request: how many items each step kept, next to the time it took.

Read from the response alone (the merge counts what it narrowed, the rules record what they
did), so the app, the CLI and the server show the same numbers without timing anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.requests import RecommendResponse


@dataclass(frozen=True)
class FunnelStep:
    step: str
    items: int
    detail: str
    ms: float | None  # None: done inside the step above (no timer of its own)


def funnel(response: RecommendResponse) -> tuple[FunnelStep, ...]:
    result = response.candidates
    candidates = result.candidates
    counts = candidates.counts
    stage1_ms = result.timings_ms()
    only = candidates.only_counts()
    steps = [
        FunnelStep(path, found, f"{only[path]} of the candidates by it alone", stage1_ms.get(path))
        for path, found in zip(candidates.path_names, counts.found, strict=True)
    ]
    steps += [
        FunnelStep(
            "distinct",
            counts.distinct,
            f"{sum(counts.found) - counts.distinct} duplicates",
            stage1_ms.get("merge"),
        ),
        FunnelStep(
            "not seen", counts.unseen, f"{counts.distinct - counts.unseen} seen by the user before", None
        ),
        FunnelStep("candidates", counts.kept, f"{counts.unseen - counts.kept} past the set size", None),
    ]
    ms = response.timings_ms
    scored = "scored by the model" if response.model_scored else "; ".join(response.degraded)
    steps.append(
        FunnelStep(
            "features", counts.kept, f"{len(response.feature_names)} features each", ms.get("features")
        )
    )
    steps.append(FunnelStep("model", counts.kept, scored, ms.get("model")))
    dropped = {e.item_id for e in response.effects if e.action == "dropped"}
    moved = {e.item_id for e in response.effects if e.action != "dropped"}
    steps.append(
        FunnelStep(
            "rules",
            counts.kept - len(dropped),
            f"{len(dropped)} dropped, {len(moved)} moved",
            ms.get("rules"),
        )
    )
    steps.append(FunnelStep("top K", len(response.items), f"of the {response.k} asked for", None))
    return tuple(steps)
