"""The inputs every feature reads, computed once per batch of rows and shared.

A row is (user, item, as-of time, group). Serving builds one group: a request's candidates
at `now`. Training builds one row per logged impression at the impression's own time, so no
feature can see the future. User-level values are computed once per distinct (user, time)
and broadcast, so a request pays for one user, not for 500 copies of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.data import Catalog, Users
from engine.event_store import ITEM_ATTRIBUTES, ITEM_COUNTS, EventStore
from engine.events import EARLIEST, EVENT_KINDS, NEVER, LiveRows, event_key, event_key_int
from engine.features.loops import (
    history_similarity_stats,
    rank_key,
    rank_pct_one_group,
    ranks_by_path,
    summarise_history,
)
from engine.kernels import gather_rows, gather_transposed
from engine.limits import DAY
from engine.retrieval.registry import PATHS
from engine.runs import contains, run_first_index, run_starts

HISTORY = 50  # clicks used for category affinity and "clicked before"
SIM_HISTORY = 10  # most recent clicks used for similarity and co-occurrence
SESSION = 30 * 60
USER_WINDOWS = (None, SESSION, DAY, 7 * DAY, 30 * DAY)
CLICK, PURCHASE, IMPRESSION = (EVENT_KINDS.index(k) for k in ("click", "purchase", "impression"))


@dataclass(frozen=True)
class FeatureInputs:
    """Row-aligned inputs. `end` is exclusive: serving passes now + 1, training the impression
    time (so its own outcome is not counted). `query_sim` is NaN where there is no query;
    `context_category` is -1 where the session names none; `hour` is NaN to take the hour
    from `end`; `path_ranks` (rows x retrieval paths, engine.retrieval.registry.PATHS) holds each
    row's 0-based rank in every path that found it, -1 elsewhere (None: unknown);
    `item_vectors` the rows' item embeddings when stage 1 already gathered them (at a million
    items that gather is a cache miss per row, worth doing once)."""

    user: np.ndarray
    item: np.ndarray
    end: np.ndarray
    group: np.ndarray
    query_sim: np.ndarray
    context_category: np.ndarray
    hour: np.ndarray | None = None
    path_ranks: np.ndarray | None = None
    item_vectors: np.ndarray | None = None
    #: the rows are one request's (one user, one time, one group): nothing to check or group
    one_request: bool = False


class FeatureContext:
    """Lazily computed intermediates over `FeatureInputs`; features read its attributes.
    `live` (one serving request's rows only) adds the events recorded while serving."""

    def __init__(
        self,
        inputs: FeatureInputs,
        catalog: Catalog,
        users: Users,
        store: EventStore,
        live: LiveRows | None = None,
    ):
        self.inputs, self.catalog, self.users, self.store, self.live = inputs, catalog, users, store, live
        self.n = len(inputs.item)
        if live is not None and len(live.item_counts) != self.n:
            raise ValueError(f"live counts for {len(live.item_counts)} rows, features for {self.n}")
        self.item = inputs.item
        if inputs.one_request and self.n:
            self.single_end = self.single_group = True
        else:
            self.single_end = bool(self.n) and bool((inputs.end == inputs.end[0]).all())
            self.single_group = bool(self.n) and bool((inputs.group == inputs.group[0]).all())
        if self.single_end and (inputs.one_request or bool((inputs.user == inputs.user[0]).all())):
            first, self.row_user = np.zeros(1, dtype=np.int64), np.zeros(self.n, dtype=np.int64)
        else:
            keys = event_key(inputs.user, inputs.end)
            _, first, self.row_user = np.unique(keys, return_index=True, return_inverse=True)
        self.u_user = inputs.user[first]
        self.u_end = inputs.end[first]
        self.u_known = (self.u_user >= 0) & (self.u_user < users.n_users)
        #: one user at one time: a serving request, whose rows share its context (hour, category)
        self.one_request = len(self.u_user) == 1
        self._counts: dict[tuple, np.ndarray] = {}
        if live is not None and len(self.u_user) != 1:
            raise ValueError("live events are read for one request (one user at one time), not a batch")

    # ----------------------------------------------------------------- helpers
    def per_row(self, per_user: np.ndarray) -> np.ndarray:
        """A value per distinct (user, time), for every row. With a single user the length-1
        array is returned as is: numpy broadcasting spreads it without a 500-row copy."""
        return per_user if len(per_user) == 1 else per_user[self.row_user]

    def user_count(self, kind: str, window: int | None) -> np.ndarray:
        """Events of `kind` per distinct user in [end - window, end), live events included."""
        key = ("user", kind, window)
        if key not in self._counts:
            if window not in USER_WINDOWS:
                raise ValueError(f"user counts are computed for the windows {USER_WINDOWS}, not {window}")
            # All windows of one kind in one lookup: [start of each window..., end].
            if len(self.u_user) == 1:
                counts = self._count_one_user(kind)
            else:
                starts = [np.zeros_like(self.u_end) if w is None else self.u_end - w for w in USER_WINDOWS]
                bounds = np.stack([*starts, self.u_end])
                entities = np.broadcast_to(self.u_user, bounds.shape)
                positions = np.searchsorted(self.store.user_index(kind).keys, event_key(entities, bounds))
                counts = np.where(self.u_known, positions[-1] - positions[:-1], np.nan).astype(np.float32)
            for window_counts, w in zip(counts, USER_WINDOWS, strict=True):
                self._counts[("user", kind, w)] = window_counts
        return self._counts[key]

    def _count_one_user(self, kind: str) -> np.ndarray:
        """(windows x 1) counts for a single user, live events included: plain integers, one
        search, no array plumbing."""
        user, end = int(self.u_user[0]), int(self.u_end[0])
        starts = [0 if window is None else end - window for window in USER_WINDOWS]
        bounds = [event_key_int(user, start) for start in starts] + [event_key_int(user, end)]
        positions = np.searchsorted(self.store.user_index(kind).keys, bounds)
        counts = (positions[-1] - positions[:-1]).astype(np.float32)
        if self.live is not None:  # live events happen now: inside every window
            counts += self.live.user.counts[EVENT_KINDS.index(kind)]
        if not self.u_known[0]:
            counts[:] = np.nan
        return counts[:, None]

    def item_count(self, kind: str, window: int | None) -> np.ndarray:
        """Events of `kind` per row's item in [end - window, end), live events included."""
        return self.item_columns[ITEM_COUNTS.index((kind, window))]

    def attribute(self, name: str) -> np.ndarray:
        """A static item column (ITEM_ATTRIBUTES) per row."""
        return self.item_columns[len(ITEM_COUNTS) + ITEM_ATTRIBUTES.index(name)]

    @cached_property
    def item_columns(self) -> np.ndarray:
        """(ITEM_COUNTS + ITEM_ATTRIBUTES) x rows, one contiguous row per column (a feature
        copies a whole row, not a strided column). Serving (the rows share one time) gathers
        the candidates' rows of the store's table in one step; training looks each count up
        at its row's own time."""
        if self.single_end:
            columns = gather_transposed(self.store.item_table(int(self.inputs.end[0])), self.item)
        else:
            end, index = self.inputs.end, self.store.item_index
            counts = [index(k).count(self.item, 0 if w is None else end - w, end) for k, w in ITEM_COUNTS]
            columns = np.concatenate((np.stack(counts), self.store.item_attributes[self.item].T))
        if self.live is not None and self.live.item_counts.any():  # live events: inside every window
            kinds = [EVENT_KINDS.index(kind) for kind, _ in ITEM_COUNTS]
            columns[: len(ITEM_COUNTS)] += self.live.item_counts[:, kinds].T
        return columns

    def rank_pct(self, values: np.ndarray) -> np.ndarray:
        """Share of the row's group that scores strictly better: 0 for the best, ties share
        the best rank of their run (so any sort order gives the same answer); NaN ranks last."""
        if self.single_group:
            return rank_pct_one_group(values)
        key = rank_key(np.asarray(values).ravel())
        n = len(key)
        pct = np.empty(n, dtype=np.float32)
        group = self.inputs.group
        order = np.lexsort((key, group))
        new_group = run_starts(group[order])
        new_value = new_group | run_starts(key[order])
        # Rank: where the row's run of equal values starts, counted from its group's start.
        position = run_first_index(new_value) - run_first_index(new_group)
        sizes = np.diff(np.append(np.flatnonzero(new_group), n))
        pct[order] = position / np.maximum(np.repeat(sizes, sizes) - 1, 1)
        return pct

    def path_rank(self, column: int) -> np.ndarray:
        """Rank in one retrieval path (NaN where the path did not find the row's item)."""
        return self.path_ranks[column]

    @property
    def path_ranks(self) -> np.ndarray:
        """(PATHS x rows) rank in every retrieval path, NaN where it did not find the row's
        item (all NaN when the paths are unknown); one contiguous row per path."""
        return self._path_ranks_and_counts[0]

    @property
    def paths_found(self) -> np.ndarray:
        """Per row: how many retrieval paths found the item."""
        return self._path_ranks_and_counts[1]

    @cached_property
    def _path_ranks_and_counts(self) -> tuple[np.ndarray, np.ndarray]:
        ranks = self.inputs.path_ranks
        if ranks is None:
            return np.full((len(PATHS), self.n), np.nan, dtype=np.float32), np.zeros(self.n, dtype=np.float32)
        return ranks_by_path(ranks)

    # ----------------------------------------------------------- shared values
    @cached_property
    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """Each distinct user's last HISTORY clicks before `end` (items, times), oldest first,
        -1 / NEVER where the history is shorter; live clicks come last."""
        index = self.store.clicks_by_user
        if len(self.u_user) == 1:  # one request: one slice of the index, no array plumbing
            items = np.full((1, HISTORY), -1, dtype=index.payload.dtype)
            times = np.full((1, HISTORY), NEVER, dtype=index.times.dtype)
            if self.u_known[0]:
                window = index.between(int(self.u_user[0]), EARLIEST, int(self.u_end[0]))
                last = slice(max(window.start, window.stop - HISTORY), window.stop)
                n = last.stop - last.start
                items[0, HISTORY - n :], times[0, HISTORY - n :] = index.payload[last], index.times[last]
        else:
            pos, valid = index.last(np.maximum(self.u_user, 0), self.u_end, HISTORY)
            items = np.where(valid & self.u_known[:, None], index.payload[pos], -1)
            times = np.where(valid & self.u_known[:, None], index.times[pos], NEVER)
        clicks = () if self.live is None else self.live.user.clicks
        if len(clicks):
            now = self.inputs.end[0] - 1
            items = np.concatenate((items[0], clicks))[None, -HISTORY:]
            times = np.concatenate((times[0], np.full(len(clicks), now, dtype=times.dtype)))[None, -HISTORY:]
        return items, times

    @cached_property
    def history_summary(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per distinct user, over the recent history, in one compiled pass: click counts
        per category (users x categories), the last click's time per category (NEVER without one),
        the mean log price of the clicked items and the clicks' spread over categories in
        bits (both NaN when none)."""
        items, times = self.history
        return summarise_history(
            items, times, self.catalog.category, self.store.item_log_price, len(self.catalog.category_names)
        )

    @property
    def history_categories(self) -> np.ndarray:
        return self.history_summary[0]

    @property
    def category_last_click(self) -> np.ndarray:
        return self.history_summary[1]

    @property
    def history_log_price(self) -> np.ndarray:
        return self.history_summary[2]

    @property
    def category_entropy(self) -> np.ndarray:
        """Per distinct user: the spread of the recent history over categories, in bits."""
        return self.history_summary[3]

    @cached_property
    def history_sim_stats(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: best, mean and last similarity of the row's item to the user's recent
        SIM_HISTORY clicks (cosines; NaN without history)."""
        recent = self.history[0][:, -SIM_HISTORY:]
        vectors, inverse_norm = self.catalog.vectors, self.store.item_inverse_norm
        if len(recent) == 1:  # one user: only the clicks there are, no padding
            recent = recent[0][recent[0] >= 0]
            if len(recent) == 0 or self.n == 0:
                empty = np.full(self.n, np.nan, dtype=np.float32)
                return empty, empty, empty
            # (clicks x rows): reductions over the few clicks run along whole rows.
            sims = gather_rows(vectors, recent) @ self.item_vectors.T
            sims *= inverse_norm[recent][:, None] * self.item_inverse_norm[None, :]
            return sims.max(axis=0), sims.mean(axis=0, dtype=np.float32), sims[-1]
        return history_similarity_stats(
            np.ascontiguousarray(self.item_vectors),
            vectors,
            np.ascontiguousarray(recent),
            self.row_user,
            inverse_norm,
            self.item_inverse_norm,
        )

    @cached_property
    def cooc(self) -> np.ndarray:
        """(SIM_HISTORY x rows) co-occurrence counts of each row's item with recent clicks:
        one contiguous row per click, so the sum and max over clicks add whole rows."""
        recent = self.history[0][:, -SIM_HISTORY:]
        if len(recent) == 1:
            return self.store.cooc.rows(recent[0], self.item)
        per_row = recent[self.row_user]
        return self.store.cooc.lookup(per_row, np.broadcast_to(self.item[:, None], per_row.shape)).T

    @cached_property
    def clicked_before(self) -> np.ndarray:
        items = self.history[0]
        if len(items) == 1:
            return contains(self.item, items[0][items[0] >= 0])
        return (items[self.row_user] == self.item[:, None]).any(axis=1)

    @cached_property
    def item_vectors(self) -> np.ndarray:
        given = self.inputs.item_vectors
        return self.catalog.vectors[self.item] if given is None else given

    @cached_property
    def item_inverse_norm(self) -> np.ndarray:
        return self.store.item_inverse_norm[self.item]

    @cached_property
    def item_category(self) -> np.ndarray:
        return self.attribute("category").astype(np.int64)

    @cached_property
    def user_sim(self) -> np.ndarray:
        user = np.maximum(self.inputs.user, 0)
        known = self.per_row(self.u_known)
        if len(self.u_user) == 1:
            sims = self.item_vectors @ self.users.vectors[user[0]]
        else:
            sims = np.einsum("nd,nd->n", self.item_vectors, self.users.vectors[user])
        sims *= self.item_inverse_norm  # users are unit rows: a cosine
        return np.where(known, sims, np.nan).astype(np.float32)

    @cached_property
    def last_click_category(self) -> np.ndarray:
        """Per distinct user: the category of the most recent click (-1 when none)."""
        last = self.history[0][:, -1]
        return np.where(last >= 0, self.catalog.category[np.maximum(last, 0)], -1)

    @cached_property
    def session_category(self) -> np.ndarray:
        """Per row (once for a request): the request's category, else the category of the
        user's last click."""
        given = self.inputs.context_category[:1] if self.one_request else self.inputs.context_category
        return np.where(given >= 0, given, self.per_row(self.last_click_category))

    @cached_property
    def item_log_price(self) -> np.ndarray:
        return self.attribute("log_price")

    @cached_property
    def hour(self) -> np.ndarray:
        """Per row, or once for a request (its rows share one time and one context)."""
        end, given = self.inputs.end, self.inputs.hour
        if self.one_request:
            end, given = end[:1], None if given is None else given[:1]
        from_clock = ((end % DAY) / 3600.0).astype(np.float32)
        return (
            from_clock if given is None else np.where(np.isnan(given), from_clock, given).astype(np.float32)
        )
