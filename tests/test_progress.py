"""Progress reports: a watcher that redraws on each report hears a step's first and last
report and few in between."""

from __future__ import annotations

from engine.progress import StepClock, Throttled


def test_a_throttled_report_passes_each_steps_first_and_last_report_only() -> None:
    heard: list[tuple[str, int, int]] = []
    report = Throttled(lambda *args: heard.append(args), interval_s=3600)
    for done in range(1001):
        report("candidates", done, 1000)
    report("features", 0, 3)
    report("features", 1, 3)
    report("features", 3, 3)
    first_and_last = [("candidates", 0, 1000), ("candidates", 1000, 1000)]
    assert heard == [*first_and_last, ("features", 0, 3), ("features", 3, 3)]


def test_an_unthrottled_interval_passes_every_report() -> None:
    heard: list[tuple[str, int, int]] = []
    report = Throttled(lambda *args: heard.append(args), interval_s=0)
    for done in range(5):
        report("step", done, 10)
    assert [done for _, done, _ in heard] == [0, 1, 2, 3, 4]


def test_a_step_clock_notes_each_steps_span_and_passes_reports_on() -> None:
    heard: list[str] = []
    clock = StepClock(lambda step, done, total: heard.append(step))
    clock("a", 0, 2)
    clock("a", 2, 2)
    clock("b", 0, 1)
    assert heard == ["a", "a", "b"]
    assert set(clock.seconds()) == {"a", "b"} and all(s >= 0 for s in clock.seconds().values())
