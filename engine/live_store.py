"""Where live events (clicks, purchases, impressions recorded while serving) are kept.

One interface, three places, chosen by `[events] store` or `serve --events`:

* `memory`: this process only, gone on restart (engines of the past, tests);
* `journal` (the default): memory plus an append-only file in the data directory, flushed to
  disk before an event is acknowledged and replayed at start, so a restart loses nothing;
* `redis://host:port/db`: a Redis stream every worker and machine shares. Each engine keeps a
  local copy of the stream and reads only what is new (one XRANGE) when a request takes its
  snapshot, so every worker serves from the same events.

A store that cannot take an event raises `EventStoreUnavailable` (the server answers 503);
recommendations go on from what the store already holds.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Protocol

import numpy as np

from engine.config import EventsConfig
from engine.errors import TwostageError
from engine.events import EVENT_KINDS, LiveSnapshot

RECORD = np.dtype([("user", "<i8"), ("item", "<i8"), ("kind", "<i8"), ("time", "<i8")])


def journal_path(root: Path, namespace: str) -> Path:
    """One journal per data set (its fingerprint): a rebuilt data set starts with no events
    that name users or items it may not have."""
    return root / "events" / namespace / "journal.bin"


DEDUPE_SECONDS = 3600  # how long an event's id is remembered against a retried write
#: add the event to the stream unless its id was seen: one atomic step in Redis
ADD_ONCE = """
if redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[5]) then
  return redis.call('XADD', KEYS[1], '*', 'u', ARGV[1], 'i', ARGV[2], 'k', ARGV[3], 't', ARGV[4])
end
return false
"""


class EventStoreUnavailable(TwostageError, RuntimeError):
    """The live event store cannot record events now (disk full, Redis down, ...)."""


class LiveStore(Protocol):
    def add(self, user: int, item: int, kind: str, time: int) -> None: ...

    def snapshot(self) -> LiveSnapshot: ...

    def problem(self) -> str | None:
        """Why the last snapshot may miss events (None when it is complete)."""
        ...

    def __len__(self) -> int: ...


class MemoryStore:
    """Events of this process; appends are locked, reads take an immutable snapshot that is
    rebuilt only when something was added since the last one."""

    def __init__(self, rows: np.ndarray | None = None) -> None:
        self._lock = threading.Lock()
        self._rows: list[np.ndarray] = [] if rows is None or len(rows) == 0 else [rows]
        self._snapshot: LiveSnapshot | None = None

    def _append(self, rows: np.ndarray) -> None:
        with self._lock:
            self._rows.append(rows)
            self._snapshot = None

    def add(self, user: int, item: int, kind: str, time: int) -> None:
        self._append(_record(user, item, kind, time))

    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            if self._snapshot is None:
                rows = np.concatenate(self._rows) if self._rows else np.zeros(0, dtype=RECORD)
                self._rows = [rows] if len(rows) else []
                self._snapshot = LiveSnapshot(*(np.ascontiguousarray(rows[f]) for f in RECORD.names))
            return self._snapshot

    def problem(self) -> str | None:
        return None

    def __len__(self) -> int:
        return len(self.snapshot().user)


class JournalStore(MemoryStore):
    """Memory plus an append-only journal of fixed-size records; an event is acknowledged
    only once it is on disk. A torn last record (a crash mid-write) is ignored on replay."""

    def __init__(self, path: Path) -> None:
        self.path = path
        rows = np.zeros(0, dtype=RECORD)
        if path.exists():
            data = path.read_bytes()
            whole = len(data) - len(data) % RECORD.itemsize
            rows = np.frombuffer(data[:whole], dtype=RECORD).copy()
        super().__init__(rows)
        self._file_lock = threading.Lock()

    def add(self, user: int, item: int, kind: str, time: int) -> None:
        row = _record(user, item, kind, time)
        with self._file_lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "ab") as journal:
                    journal.write(row.tobytes())
                    journal.flush()
                    os.fsync(journal.fileno())
            except OSError as exc:
                raise EventStoreUnavailable(
                    f"cannot write the event journal {self.path} ({exc.strerror or exc}); free disk space "
                    "or fix its permissions; recommendations go on, events are refused until then"
                ) from None
        self._append(row)


class RedisStore(MemoryStore):
    """A Redis stream shared by every engine of this data set; the local copy catches up on
    each snapshot with one XRANGE from the last entry it has."""

    def __init__(self, url: str, namespace: str) -> None:
        import redis  # only engines that use Redis need the client

        super().__init__()
        self.url, self.key = url, f"twostage:{namespace}:events"
        self._client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._add_once = self._client.register_script(ADD_ONCE)
        self._error = redis.RedisError
        self._last_id = "0-0"
        self._sync_lock = threading.Lock()
        self.reachable = True

    def add(self, user: int, item: int, kind: str, time: int) -> None:
        _record(user, item, kind, time)  # validates the kind before anything is stored
        # The client retries a command whose answer timed out; the event's own id makes the
        # retry a no-op instead of a second copy (the script is atomic in Redis).
        event_id = uuid.uuid4().hex
        try:
            self._add_once(
                keys=[self.key, f"{self.key}:seen:{event_id}"],
                args=[user, item, EVENT_KINDS.index(kind), time, DEDUPE_SECONDS],
            )
        except self._error as exc:
            self.reachable = False
            raise EventStoreUnavailable(
                f"cannot record the event in Redis at {self.url} ({exc}); start Redis or check the URL; "
                "recommendations go on from the events already read"
            ) from None

    def snapshot(self) -> LiveSnapshot:
        with self._sync_lock:
            try:
                entries = self._client.xrange(self.key, min=f"({self._last_id}", max="+")
                self.reachable = True
            except self._error:
                self.reachable = False  # serve from what was read before; never fail a request
                entries = []
            if entries:
                self._last_id = entries[-1][0].decode()
                rows = np.zeros(len(entries), dtype=RECORD)
                for name, key in zip(RECORD.names, (b"u", b"i", b"k", b"t"), strict=True):
                    rows[name] = [int(fields[key]) for _, fields in entries]
                self._append(rows)
        return super().snapshot()

    def problem(self) -> str | None:
        if self.reachable:
            return None
        return (
            f"live events unavailable (Redis at {self.url} unreachable): served from the events read before"
        )

    def count(self) -> int:
        """Events in the shared stream (for checks that nothing acknowledged was lost)."""
        return int(self._client.xlen(self.key))


def open_store(events: EventsConfig, root: Path, namespace: str) -> LiveStore:
    """The store `events` names (checked by EventsConfig) for the data in `root`."""
    if events.shared:
        return RedisStore(events.store, namespace)
    if events.store == "journal":
        return JournalStore(journal_path(root, namespace))
    return MemoryStore()


def _record(user: int, item: int, kind: str, time: int) -> np.ndarray:
    return np.array([(user, item, EVENT_KINDS.index(kind), time)], dtype=RECORD)
