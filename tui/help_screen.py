"""The help screen: the keys, and what the two stages do with this engine's feature count and
budget."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from engine.config import BudgetConfig

HELP = """\
# twostage demo

**Stage 1** finds candidates: the user's embedding through the ANN backend, items like the
user's last clicks, items others clicked close in time to them (co-visits), the most liked
items, trending items in their categories, promoted items. **Stage 2** scores every
candidate with a CatBoost model over {n_features} features, then business rules drop and
move items. In a terminal of 140 columns or more the stage-1 list and the re-ranked list
stand side by side, the selected item highlighted in both; *move* is how far the model moved
an item from its stage-1 rank. *Why* compares the item with the request's average candidate
(what every candidate shares, the user and the context, cancels out). *Funnel* counts what
each step kept and how long it took.

| key | does |
| --- | --- |
| enter | run the request in the panel (in find: a user who prefers that category) |
| r | a random user |
| c / b | click / buy the selected item (recorded, then the shown request runs again) |
| e | show why the selected item ranks there (the explanation follows the selection) |
| up / down, page up / down, home / end | move the selection in a list |
| left / right | scroll the stage-1 list sideways (rules and category on a narrow screen) |
| 1 2 3 4 5 6 | re-ranked (and stage 1 beside it when wide), candidates, why, funnel, compare, sweep |
| x | compare: run the shown request again with the backend and setting of the compare tab |
| s | run the candidate-size sweep (quality and latency per size) |
| S | run the recall sweep: the shown backend's search settings, final quality against ANN recall |
| ? | this help |
| q | quit |

The timing bars are each stage's share of its budget ({b.ann_ms:g} ms retrieval, {b.features_ms:g} features,
{b.model_ms:g} model, {b.buffer_ms:g} buffer, {b.total_ms:g} total); red means over budget. The sparkline
shows the last requests' totals; p50 and p99 are over this session. They are the engine's own
times; each request here follows an idle pause (the screen drawing, you reading), which makes
it slower than requests back to back: `twostage bench --idle-ms 200` shows the same.

Press escape to close.
"""


class HelpScreen(ModalScreen[None]):
    """The keys, and the feature count and budget of the engine in use (not stated in code)."""

    BINDINGS = [("escape,q,question_mark", "app.pop_screen", "Close")]

    def __init__(self, n_features: int, budget: BudgetConfig) -> None:
        super().__init__()
        self.text = HELP.format(n_features=n_features, b=budget)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(self.text)
