"""Time-indexed event lookups, shared by serving and training so both see one definition.

`EventIndex` sorts (entity, time) pairs once under a single int64 key, so "how many events
for these entities in [t0, t1)" and "the last n events before t" are two `searchsorted`
calls for a whole batch of rows, whether the rows are 500 candidates of one request or a
million logged impressions, each with its own point in time.

`LiveUser` and `LiveRows` hold what a request reads of the events `record_event` added while
the engine runs (engine.live_store keeps them); features add them on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import DataFormatError, InvalidRequestError
from engine.limits import check_item_id, check_user_id

_TIME_BITS = 34  # 2**34 seconds: about 544 years
_ORIGIN = -(1 << (_TIME_BITS - 1))  # Unix seconds: the key's zero, centred on 1970
#: the "no event" time (a user's last click in a category, a history slot not filled): below
#: every event, so a comparison with it needs no other flag
NEVER = _ORIGIN
#: the span of Unix seconds an event may carry (years 1697 to 2242); the importer refuses
#: times outside it, naming the row, instead of letting a key clip them onto one moment
EARLIEST = _ORIGIN + 1
LATEST = _ORIGIN + (1 << _TIME_BITS) - 1

EVENT_KINDS = ("impression", "click", "purchase")


class EventIndex:
    """Events of one kind keyed by entity (a user or an item), with a payload per event."""

    def __init__(self, entity: np.ndarray, time: np.ndarray, payload: np.ndarray | None = None):
        check_times(time)
        order = np.lexsort((time, entity))
        self.keys = event_key(entity[order], time[order])
        self.times = np.ascontiguousarray(time[order])
        self.payload = None if payload is None else np.ascontiguousarray(payload[order])

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def count(self, entity: np.ndarray, start: np.ndarray | int, end: np.ndarray | int) -> np.ndarray:
        """Events of each `entity` with start <= time < end (per row or one window for all)."""
        lo = np.searchsorted(self.keys, event_key(entity, start))
        hi = np.searchsorted(self.keys, event_key(entity, end))
        return (hi - lo).astype(np.float32)

    def last(self, entity: np.ndarray, before: np.ndarray | int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions of each entity's last `n` events before `before` (rows x n, oldest first),
        and a mask of which slots hold an event."""
        hi = np.searchsorted(self.keys, event_key(entity, before))
        lo = np.searchsorted(self.keys, event_key(entity, EARLIEST))
        positions = hi[:, None] - n + np.arange(n)[None, :]
        valid = positions >= lo[:, None]
        return np.where(valid, positions, 0), valid

    def between(self, entity: int, start: int, end: int) -> slice:
        """The slice of one entity's events with start <= time < end."""
        lo, hi = np.searchsorted(self.keys, [event_key_int(entity, start), event_key_int(entity, end)])
        return slice(int(lo), int(hi))


def check_times(time: np.ndarray) -> None:
    """Refuse event times a key cannot hold: clipped, they would all fall on one moment."""
    if len(time) and (int(time.min()) < EARLIEST or int(time.max()) > LATEST):
        bad = int(time.min()) if int(time.min()) < EARLIEST else int(time.max())
        raise DataFormatError(
            f"event time {bad} is outside the Unix seconds {EARLIEST}..{LATEST} (years 1697-2242); "
            "times in milliseconds or microseconds must be converted (`twostage import --time-unit`)"
        )


def event_key(entity: np.ndarray | int, time: np.ndarray | int) -> np.ndarray:
    """One sortable int64 per (entity, time). A bound outside the span clips onto its edge,
    which is where it belongs (no event lies beyond); stored events are checked instead."""
    t = np.clip(np.asarray(time, dtype=np.int64) - _ORIGIN, 0, (1 << _TIME_BITS) - 1)
    return (np.asarray(entity, dtype=np.int64) << _TIME_BITS) + t


def event_key_int(entity: int, time: int) -> int:
    """`event_key` for one (entity, time) in plain integers: cheaper than arrays for one lookup."""
    return (entity << _TIME_BITS) + min(max(time - _ORIGIN, 0), (1 << _TIME_BITS) - 1)


def check_event(
    user_id: object, item_id: object, kind: object, n_users: int, n_items: int
) -> tuple[int, int, str]:
    """A recorded event's (user, item, kind), checked: a known user, an item of the catalog,
    a known kind."""
    user = check_user_id(user_id)
    if not 0 <= user < n_users:
        raise InvalidRequestError(
            f"user {user} is unknown; events can be recorded for users 0..{n_users - 1}"
        )
    item = check_item_id(item_id, n_items)
    if kind not in EVENT_KINDS:
        raise InvalidRequestError(f"event kind must be one of {', '.join(EVENT_KINDS)}, got {kind!r}")
    return user, item, str(kind)


LIVE_CLICKS_KEPT = 1000  # a user's most recent live clicks kept for history and "seen"


@dataclass(frozen=True)
class LiveUser:
    """One user's live events as a request reads them, once: totals per kind (EVENT_KINDS
    order) and the most recent clicks, oldest first. Live events happen at the engine's
    present, inside every feature window, so totals are all the features need and a store
    can keep counters instead of a timeline."""

    counts: np.ndarray
    clicks: np.ndarray

    @classmethod
    def none(cls) -> LiveUser:
        return cls(np.zeros(len(EVENT_KINDS), dtype=np.float32), np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class LiveRows:
    """The live state one request's features read: its user's and each candidate's totals
    (rows x EVENT_KINDS)."""

    user: LiveUser
    item_counts: np.ndarray
