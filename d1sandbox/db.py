"""SQLite access shared by both services.

sqlite-utils owns schema creation and migrations (see each service's `store.py`); runtime reads and
writes go through this small wrapper so that a whole state change is one explicit transaction.
(sqlite-utils' own write helpers open `with conn:` blocks that would commit an outer transaction
half-way, so they are used for schema only.)"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import sqlite_utils

T = TypeVar("T")


def _row_factory(cursor: sqlite3.Cursor, row: tuple) -> dict:
    return {col[0]: row[i] for i, col in enumerate(cursor.description)}


class Database:
    """Thread-local connections to one SQLite file in WAL mode."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # One writer at a time inside this process, queued on a Python lock: SQLite would make the
        # others poll its busy handler (sleeps of 1, 2, 5 … 100 ms), which under concurrent requests
        # costs far more than the writes themselves. Other processes still meet SQLite's own lock.
        self._write_lock = threading.Lock()
        self._group_lock = threading.Lock()
        self._group_queue: list[_GroupItem] = []
        self._group_leading = False
        self.busy_timeout = 10.0
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_stop = threading.Event()

    # -- connections -------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
            conn.row_factory = _row_factory
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            if self._checkpointer is not None:
                conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it (see below)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def schema(self) -> sqlite_utils.Database:
        """A sqlite-utils handle for DDL (create/transform tables, indexes), on its own connection
        because sqlite-utils expects tuple rows."""
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        # As on the runtime connections: in WAL mode NORMAL stays consistent after a crash and does not
        # fsync every DDL commit (FULL made creating a fresh schema cost ~80 fsyncs).
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._all.append(conn)
        return sqlite_utils.Database(conn)

    def start_checkpointer(self, interval: float = 0.5) -> None:
        """Move WAL checkpoints off the request path (for served processes). By default SQLite
        checkpoints inside whichever COMMIT crosses 1000 WAL pages, and in synchronous=NORMAL that
        checkpoint fsyncs: one request in ~50 paid tens of milliseconds. Connections opened from now on
        skip the automatic checkpoint; this thread runs a PASSIVE one (blocks no reader or writer)
        every `interval` seconds."""
        if self._checkpointer is not None:
            return
        self._checkpoint_stop.clear()
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._all.append(conn)
            # Connections opened before (e.g. by the app factory's thread) checkpoint nothing either.
            for other in self._all:
                try:
                    other.execute("PRAGMA wal_autocheckpoint=0")
                except sqlite3.Error:
                    pass

        def loop():
            while not self._checkpoint_stop.wait(interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:  # busy or closed: try again next round
                    pass

        self._checkpointer = threading.Thread(target=loop, name="sqlite-checkpoint", daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpoint_stop.set()
            self._checkpointer.join(5)
            self._checkpointer = None
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:
                    pass
            self._all.clear()
        self._local = threading.local()

    # -- transactions ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator["Database"]:
        """One atomic unit. Nested calls join the outer transaction."""
        conn = self.conn
        if conn.in_transaction:
            yield self
            return
        if not self._write_lock.acquire(timeout=self.busy_timeout):
            raise sqlite3.OperationalError("database is locked")
        self._local.after_commit = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
        finally:
            self._write_lock.release()
            callbacks, self._local.after_commit = self._local.after_commit, None
        for callback in callbacks or ():  # only reached after COMMIT
            callback()

    def group_commit(self, work: Callable[[], T]) -> T:
        """Run `work()` atomically, in a write transaction it may share with other threads' concurrent
        `group_commit` calls (group commit), and return its result once that transaction committed.

        Under concurrent AReqs every request paid its own BEGIN … COMMIT (a dozen WAL pages) and its own
        hand-off of the write lock; here the first caller becomes the leader and commits everything
        queued meanwhile in one transaction, the others wait for it (~15 % less simulator CPU per AReq
        with 4 clients; see docs/performance.md). Durability is unchanged: nobody returns before the
        COMMIT holding their writes. If any `work()` of a batch raises, the whole batch is rolled back
        and each is run again in a transaction of its own, so one caller's error (e.g. a reused ID
        caught by a unique index) never touches another's writes and reaches only its own caller.
        `work` must only write (its reads would see the batch's other writes) and be safe to run twice.
        Inside an open transaction it simply joins it."""
        if self.conn.in_transaction:
            return work()
        item = _GroupItem(work)
        with self._group_lock:
            self._group_queue.append(item)
            lead = not self._group_leading
            self._group_leading = True
        if not lead:
            item.done.wait()
            if not item.promoted:
                return item.outcome()
        # Leading: commit whatever is queued (our own work included), then hand the lead to the
        # next waiter if more came meanwhile, so no caller waits behind an endless stream of others.
        with self._group_lock:
            batch, self._group_queue = self._group_queue, []
        try:
            self._commit_batch(batch)
        finally:  # even when interrupted: the callers queued meanwhile must not wait for ever
            with self._group_lock:
                if self._group_queue:
                    successor = self._group_queue[0]
                    successor.promoted = True
                    successor.done.set()
                else:
                    self._group_leading = False
        return item.outcome()

    def _commit_batch(self, batch: list["_GroupItem"]) -> None:
        try:
            try:
                with self.transaction():
                    for item in batch:
                        item.result = item.work()
                for item in batch:
                    item.committed = True
            except Exception:
                if len(batch) == 1:
                    raise
                for item in batch:  # one of them failed: each alone, so only that one fails
                    try:
                        with self.transaction():
                            item.result = item.work()
                        item.committed = True
                    except Exception as exc:
                        item.error = exc
        except Exception as exc:
            batch[0].error = exc
        finally:
            for item in batch:
                if not item.committed and item.error is None:  # interrupted (e.g. KeyboardInterrupt)
                    item.error = RuntimeError("the shared write transaction did not commit")
                item.promoted = False
                item.done.set()

    def after_commit(self, callback) -> None:
        """Run `callback()` once the current transaction has committed (never if it rolls back);
        at once when no transaction of ours is open."""
        pending = getattr(self._local, "after_commit", None)
        if pending is not None and self.conn.in_transaction:
            pending.append(callback)
        else:
            callback()

    # -- small query helpers -----------------------------------------------------------------
    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: Any = ()) -> dict | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Any = ()) -> list[dict]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else next(iter(row.values()))

    def insert(self, table: str, row: dict, *, replace: bool = False) -> int:
        cols = list(row)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        sql = f"{verb} INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' * len(cols))})"
        cur = self.conn.execute(sql, [_encode(row[c]) for c in cols])
        return cur.lastrowid

    def update(self, table: str, where: dict, values: dict) -> int:
        sets = ", ".join(f"[{c}] = ?" for c in values)
        cond = " AND ".join(f"[{c}] = ?" for c in where)
        cur = self.conn.execute(
            f"UPDATE [{table}] SET {sets} WHERE {cond}",
            [_encode(v) for v in values.values()] + [_encode(v) for v in where.values()],
        )
        return cur.rowcount

    def get(self, table: str, **where: Any) -> dict | None:
        cond = " AND ".join(f"[{c}] = ?" for c in where)
        return self.one(f"SELECT * FROM [{table}] WHERE {cond}", list(where.values()))


class _GroupItem:
    """One caller's share of a group commit."""

    __slots__ = ("work", "result", "error", "done", "promoted", "committed")

    def __init__(self, work: Callable[[], Any]):
        self.work = work
        self.promoted = False  # woken to lead the next batch rather than because ours committed
        self.committed = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def _encode(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return value


def loads(value: str | None, default: Any = None) -> Any:
    if value in (None, ""):
        return default
    return json.loads(value)
