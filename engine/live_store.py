"""Where live events (clicks, purchases, impressions recorded while serving) are kept.

One interface, three places, chosen by `[events] store` or `serve --events`:

* `memory`: this process only, gone on restart (engines of the past, tests);
* `journal` (the default): memory plus an append-only file in the data directory, flushed to
  disk before an event is acknowledged and replayed at start, so a restart loses nothing;
* `redis://host:port/db` (or `unix://`): Redis, shared by every worker and machine. Each event
  is appended to a stream (the log) and, in the same atomic script, added to the per-user and
  per-item counters and the user's recent clicks, which are all a request reads: one round
  trip for its user, one for its candidates, whatever the number of events.

Every store answers the same two reads (`user_state`, `item_counts`). A store that cannot
take an event raises `EventStoreUnavailable` (the server answers 503); a store that cannot be
read answers "no live events" and says why in `problem()`, so recommendations go on.
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
from engine.events import EVENT_KINDS, LIVE_CLICKS_KEPT, LiveUser

RECORD = np.dtype([("user", "<i8"), ("item", "<i8"), ("kind", "<i8"), ("time", "<i8")])
CLICK = EVENT_KINDS.index("click")


def journal_path(root: Path, namespace: str) -> Path:
    """One journal per data set (its fingerprint): a rebuilt data set starts with no events
    that name users or items it may not have."""
    return root / "events" / namespace / "journal.bin"


def redis_prefix(namespace: str) -> str:
    """Every Redis key of one data set starts so; the hash tag `{namespace}` keeps them in one
    Redis Cluster slot, as scripts that touch several keys require."""
    return f"twostage:{{{namespace}}}"


class EventStoreUnavailable(TwostageError, RuntimeError):
    """The live event store cannot record events now (disk full, Redis down, ...)."""


class LiveStore(Protocol):
    def add(self, user: int, item: int, kind: str, time: int) -> None: ...

    def user_state(self, user: int) -> LiveUser: ...

    def item_counts(self, items: np.ndarray) -> np.ndarray:
        """Live events per item in `items` and kind (rows x EVENT_KINDS, float32)."""
        ...

    def problem(self) -> str | None:
        """Why the last read may miss events (None when it was complete)."""
        ...

    def __len__(self) -> int: ...


class MemoryStore:
    """Counters of this process: per user and kind, per item and kind, and each user's recent
    clicks, updated under a lock; a read copies what one request needs."""

    def __init__(self, n_users: int, n_items: int) -> None:
        self._lock = threading.Lock()
        self._shape = (n_users, n_items)
        self._user_counts: np.ndarray | None = None  # allocated with the first event
        self._item_counts: np.ndarray | None = None
        self._clicks: dict[int, np.ndarray] = {}
        self._total = 0
        self.skipped = 0

    def _apply(self, rows: np.ndarray) -> None:
        n_users, n_items = self._shape
        known = (rows["user"] >= 0) & (rows["user"] < n_users)
        known &= (rows["item"] >= 0) & (rows["item"] < n_items)
        known &= (rows["kind"] >= 0) & (rows["kind"] < len(EVENT_KINDS))
        rows = rows[known]
        with self._lock:
            self.skipped += int((~known).sum())
            if self._user_counts is None or self._item_counts is None:
                self._user_counts = np.zeros((n_users, len(EVENT_KINDS)), dtype=np.int64)
                self._item_counts = np.zeros((n_items, len(EVENT_KINDS)), dtype=np.int64)
            np.add.at(self._user_counts, (rows["user"], rows["kind"]), 1)
            np.add.at(self._item_counts, (rows["item"], rows["kind"]), 1)
            clicks = rows[rows["kind"] == CLICK]
            for user in np.unique(clicks["user"]).tolist():  # per user clicking, not per candidate
                mine = clicks["item"][clicks["user"] == user]
                before = self._clicks.get(user, np.zeros(0, dtype=np.int64))
                self._clicks[user] = np.concatenate((before, mine))[-LIVE_CLICKS_KEPT:]
            self._total += len(rows)

    def add(self, user: int, item: int, kind: str, time: int) -> None:
        self._apply(_record(user, item, kind, time))

    def user_state(self, user: int) -> LiveUser:
        with self._lock:
            if self._user_counts is None or not 0 <= user < len(self._user_counts):
                return LiveUser.none()
            counts = self._user_counts[user].astype(np.float32)
            clicks = self._clicks.get(user, np.zeros(0, dtype=np.int64))
        return LiveUser(counts, clicks)

    def item_counts(self, items: np.ndarray) -> np.ndarray:
        with self._lock:
            if self._item_counts is None:
                return np.zeros((len(items), len(EVENT_KINDS)), dtype=np.float32)
            return self._item_counts[items].astype(np.float32)

    def problem(self) -> str | None:
        return None

    def __len__(self) -> int:
        return self._total


class JournalStore(MemoryStore):
    """Memory plus an append-only journal of fixed-size records; an event is acknowledged
    only once it is on disk. A torn last record (a crash mid-write) is ignored on replay."""

    def __init__(self, path: Path, n_users: int, n_items: int) -> None:
        super().__init__(n_users, n_items)
        self.path = path
        if path.exists():
            data = path.read_bytes()
            whole = len(data) - len(data) % RECORD.itemsize
            self._apply(np.frombuffer(data[:whole], dtype=RECORD))
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
        self._apply(row)

    def problem(self) -> str | None:
        if not self.skipped:
            return None
        return f"{self.skipped} journal records name users or items this data set lacks; they were skipped"


DEDUPE_SECONDS = 3600  # how long an event's id is remembered against a retried write
#: One event, atomically: unless its id was seen (a client retry), append it to the stream
#: (trimmed to about ARGV[6] entries) and add it to the counters and the user's recent clicks.
#: KEYS: stream, seen marker, user counts, user clicks, item counts of this kind, total.
#: ARGV: user, item, kind code, time, dedupe seconds, stream length kept, clicks kept, click code.
ADD_ONCE = """
if not redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[5]) then return false end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*',
                      'u', ARGV[1], 'i', ARGV[2], 'k', ARGV[3], 't', ARGV[4])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('HINCRBY', KEYS[5], ARGV[2], 1)
if ARGV[3] == ARGV[8] then
  redis.call('RPUSH', KEYS[4], ARGV[2])
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[7]), -1)
end
redis.call('INCR', KEYS[6])
return id
"""
#: A user's counts (KEYS[1], fields ARGV) and recent clicks (KEYS[2]), packed as uint32 so
#: the engine reads them with one numpy call.
READ_USER = """
local counts = redis.call('HMGET', KEYS[1], unpack(ARGV))
local packed = {}
for i = 1, #ARGV do packed[i] = struct.pack('<I4', tonumber(counts[i]) or 0) end
local clicks = redis.call('LRANGE', KEYS[2], 0, -1)
local items = {}
for i = 1, #clicks do items[i] = struct.pack('<I4', tonumber(clicks[i])) end
return {table.concat(packed), table.concat(items)}
"""
#: Counts of the items packed as uint32 in ARGV[1], one packed answer per hash in KEYS.
READ_ITEMS = """
local n = #ARGV[1] / 4
local ids = {}
for j = 1, n do ids[j] = tostring((struct.unpack('<I4', ARGV[1], 4 * j - 3))) end
local answers = {}
for k = 1, #KEYS do
  local packed = {}
  for first = 1, n, 1000 do
    local values = redis.call('HMGET', KEYS[k], unpack(ids, first, math.min(first + 999, n)))
    for j = 1, #values do packed[first + j - 1] = struct.pack('<I4', tonumber(values[j]) or 0) end
  end
  answers[k] = table.concat(packed)
end
return answers
"""


class RedisStore:
    """Counters in Redis shared by every engine of this data set."""

    def __init__(self, url: str, namespace: str, stream_max_len: int) -> None:
        import redis  # only engines that use Redis need the client

        self.url, self.stream_max_len = url, stream_max_len
        self.prefix = redis_prefix(namespace)
        self.key = f"{self.prefix}:events"
        self.total_key = f"{self.prefix}:total"
        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._add_once = self._client.register_script(ADD_ONCE)
        self._read_user = self._client.register_script(READ_USER)
        self._read_items = self._client.register_script(READ_ITEMS)
        self._error = redis.RedisError
        self.reachable = True

    def user_keys(self, user: int) -> list[str]:
        """The user's counters (a hash: kind code -> count) and recent clicks (a list)."""
        return [f"{self.prefix}:user:{user}", f"{self.prefix}:clicks:{user}"]

    def items_key(self, code: int) -> str:
        """Per-item counts of one kind of event (a hash: item id -> count)."""
        return f"{self.prefix}:items:{code}"

    def add(self, user: int, item: int, kind: str, time: int) -> None:
        code = int(_record(user, item, kind, time)["kind"][0])  # validates the kind first
        # The client retries a command whose answer timed out; the event's own id makes the
        # retry a no-op instead of a second copy (the script is atomic in Redis).
        keys = [
            self.key,
            f"{self.prefix}:seen:{uuid.uuid4().hex}",
            *self.user_keys(user),
            self.items_key(code),
            self.total_key,
        ]
        args = [user, item, code, time, DEDUPE_SECONDS, self.stream_max_len, LIVE_CLICKS_KEPT, CLICK]
        try:
            self._add_once(keys=keys, args=args)
            self.reachable = True
        except self._error as exc:
            self.reachable = False
            raise EventStoreUnavailable(
                f"cannot record the event in Redis at {self.url} ({exc}); start Redis or check the URL; "
                "recommendations go on, without live events until it is back"
            ) from None

    def user_state(self, user: int) -> LiveUser:
        try:
            counts, clicks = self._read_user(keys=self.user_keys(user), args=list(range(len(EVENT_KINDS))))
            self.reachable = True
        except self._error:
            self.reachable = False  # serve without live events; never fail a request
            return LiveUser.none()
        return LiveUser(_unpack(counts).astype(np.float32), _unpack(clicks).astype(np.int64))

    def item_counts(self, items: np.ndarray) -> np.ndarray:
        keys = [self.items_key(code) for code in range(len(EVENT_KINDS))]
        try:
            answers = self._read_items(keys=keys, args=[np.asarray(items, dtype="<u4").tobytes()])
            self.reachable = True
        except self._error:
            self.reachable = False
            return np.zeros((len(items), len(EVENT_KINDS)), dtype=np.float32)
        return np.stack([_unpack(answer) for answer in answers], axis=1).astype(np.float32)

    def problem(self) -> str | None:
        if self.reachable:
            return None
        return f"live events unavailable (Redis at {self.url} unreachable): served without them for now"

    def count(self) -> int:
        """Events recorded in Redis (for checks that nothing acknowledged was lost)."""
        return int(self._client.get(self.total_key) or 0)

    def __len__(self) -> int:
        try:
            return self.count()
        except self._error:
            return 0


def open_store(events: EventsConfig, root: Path, namespace: str, n_users: int, n_items: int) -> LiveStore:
    """The store `events` names (checked by EventsConfig) for the data in `root`."""
    if events.shared:
        return RedisStore(events.store, namespace, events.stream_max_len)
    if events.store == "journal":
        return JournalStore(journal_path(root, namespace), n_users, n_items)
    return MemoryStore(n_users, n_items)


def _record(user: int, item: int, kind: str, time: int) -> np.ndarray:
    return np.array([(user, item, EVENT_KINDS.index(kind), time)], dtype=RECORD)


def _unpack(packed: bytes) -> np.ndarray:
    return np.frombuffer(packed, dtype="<u4")
