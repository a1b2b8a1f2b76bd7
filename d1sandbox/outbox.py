"""The durable outbox: calls the real platform makes off the cardholder's path (notifications to
the issuer, RReq retries, …) are written here in the same transaction as the state change that
causes them, then delivered by a background worker with retries and backoff. A crash loses nothing
(pending rows are picked up on restart) and a slow peer slows no challenge.

Tests call `drain()` to deliver synchronously."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Callable

from .clock import Clock
from .db import Database, loads

log = logging.getLogger("d1sandbox.outbox")

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    correlation TEXT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 6,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
"""


class RetryLater(Exception):
    """Raised by a handler when delivery failed in a way worth retrying."""


class GiveUp(Exception):
    """Raised by a handler when the peer refused the message for good (e.g. HTTP 400): sending the
    same message again cannot succeed, so the row is dead-lettered at once instead of retried for
    minutes. `Outbox.redeliver()` (`POST /sandbox/outbox/redeliver`) queues it again once fixed."""


Handler = Callable[[dict, dict], Any]  # (payload, row) -> None


class Outbox:
    BATCH = 50  # due rows read at once by drain()

    def __init__(self, db: Database, clock: Clock, *, base_delay: float = 1.0, max_delay: float = 60.0):
        self.db = db
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._handlers: dict[str, Handler] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drain_lock = threading.Lock()

    @staticmethod
    def create_schema(db: Database) -> None:
        db.conn.executescript(SCHEMA_SQL)

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def enqueue(self, kind: str, payload: dict, *, correlation: str | None = None, delay: float = 0.0,
                max_attempts: int = 6) -> int:
        """Call inside the caller's transaction so the message exists iff the state change does."""
        now = self.clock.now()
        row_id = self.db.insert("outbox", {
            "kind": kind, "correlation": correlation, "payload": json.dumps(payload), "status": "pending",
            "attempts": 0, "max_attempts": max_attempts, "next_attempt_at": now + delay, "created_at": now,
        })
        # Wake the worker once the row is visible to it: after the caller's COMMIT (waking it
        # earlier made it find nothing and sleep a whole poll interval, e.g. 250 ms before an RReq).
        self.db.after_commit(self._wake.set)
        return row_id

    # -- delivery ----------------------------------------------------------------------------
    def drain(self, limit: int = 1000) -> int:
        """Deliver everything due now; returns how many rows were attempted."""
        attempted = 0
        with self._drain_lock:
            while attempted < limit:
                # Oldest first, a batch at a time: one sorted read per batch instead of one per row
                # (the sort costs as much as the backlog is long). Rows enqueued meanwhile (a handler's
                # follow-up) come with the next batch; the drain lock keeps two drains apart.
                rows = self.db.all(
                    "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
                    (self.clock.now(), min(self.BATCH, limit - attempted)),
                )
                if not rows:
                    break
                for row in rows:
                    attempted += 1
                    self._deliver(row)
        return attempted

    def _deliver(self, row: dict) -> None:
        handler = self._handlers.get(row["kind"])
        attempts = row["attempts"] + 1
        try:
            if handler is None:
                raise LookupError(f"no handler for {row['kind']}")
            handler(loads(row["payload"], {}), row)
        except RetryLater as exc:
            self._fail(row, attempts, str(exc) or "retry")
        except GiveUp as exc:
            self._fail(row, attempts, str(exc) or "refused", dead=True)
        except Exception as exc:  # a bug in a handler must not kill the worker
            log.error("outbox %s #%s failed: %s", row["kind"], row["id"], type(exc).__name__)
            self._fail(row, attempts, f"{type(exc).__name__}")
        else:
            with self.db.transaction():
                self.db.update("outbox", {"id": row["id"]},
                               {"status": "done", "attempts": attempts, "done_at": self.clock.now()})

    def _fail(self, row: dict, attempts: int, error: str, *, dead: bool = False) -> None:
        dead = dead or attempts >= row["max_attempts"]
        delay = min(self.max_delay, self.base_delay * (2 ** (attempts - 1)))
        with self.db.transaction():
            self.db.update("outbox", {"id": row["id"]}, {
                "status": "dead" if dead else "pending", "attempts": attempts, "last_error": error[:300],
                "next_attempt_at": self.clock.now() + delay,
            })

    def redeliver(self, kind: str | None = None) -> int:
        """Queue dead rows again (after the peer was fixed), with a fresh set of attempts; returns how
        many. Nothing dead-lettered is ever lost: this is how it gets delivered after all."""
        where, params = "status = 'dead'", [self.clock.now()]
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        with self.db.transaction():
            count = self.db.execute(
                f"UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE {where}",
                params).rowcount
            if count:
                self.db.after_commit(self._wake.set)
        return count

    def pending(self, kind: str | None = None, limit: int | None = None) -> list[dict]:
        """Rows not delivered yet (pending, or dead after every retry), oldest first; optionally only
        of one `kind`, at most `limit` of them."""
        where, params = "status != 'done'", []
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        sql = ("SELECT id, kind, correlation, status, attempts, next_attempt_at, last_error FROM outbox "
               f"WHERE {where} ORDER BY id")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self.db.all(sql, params)

    def stats(self, kind: str | None = None) -> dict:
        """Row counts by status (of one `kind` when given)."""
        if kind is None:
            rows = self.db.all("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        else:
            rows = self.db.all("SELECT status, COUNT(*) AS n FROM outbox WHERE kind = ? GROUP BY status", (kind,))
        return {row["status"]: row["n"] for row in rows}

    # -- background worker -------------------------------------------------------------------
    def start(self, poll_interval: float = 0.25) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()

        def loop():
            while not self._stop.is_set():
                # Clear before draining: a wake-up that arrives while we drain is kept for the next
                # round instead of being lost (the poll interval only serves rows that fall due later).
                self._wake.clear()
                try:
                    self.drain()
                except Exception:
                    log.exception("outbox worker iteration failed")
                self._wake.wait(poll_interval)

        self._thread = threading.Thread(target=loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
