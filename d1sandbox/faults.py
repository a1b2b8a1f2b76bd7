"""Fault injection for outbound calls, driven by `/sandbox/faults`.

A fault matches a target (e.g. "issuer", "threeds-server", "sms", "email") and an operation name
(or "*"), and applies to the next `count` calls (forever when count is null)."""

from __future__ import annotations

from .clock import Clock
from .db import Database
from .outbound import Fault

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    operation TEXT NOT NULL DEFAULT '*',
    issuer_id TEXT,
    status INTEGER,
    delay_ms INTEGER NOT NULL DEFAULT 0,
    timeout INTEGER NOT NULL DEFAULT 0,
    remaining INTEGER,
    hits INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
"""


class Faults:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock

    @staticmethod
    def create_schema(db: Database) -> None:
        db.conn.executescript(SCHEMA_SQL)

    def add(self, target: str, operation: str = "*", *, issuer_id: str | None = None, status: int | None = None,
            delay_ms: int = 0, timeout: bool = False, count: int | None = None) -> dict:
        with self.db.transaction():
            fault_id = self.db.insert("faults", {
                "target": target, "operation": operation, "issuer_id": issuer_id, "status": status,
                "delay_ms": delay_ms, "timeout": int(timeout), "remaining": count, "created_at": self.clock.now(),
            })
        return self.get(fault_id)

    def get(self, fault_id: int) -> dict:
        return self._public(self.db.get("faults", id=fault_id))

    def list(self) -> list[dict]:
        return [self._public(r) for r in self.db.all("SELECT * FROM faults ORDER BY id")]

    def clear(self) -> int:
        with self.db.transaction():
            return self.db.execute("DELETE FROM faults").rowcount

    def take(self, target: str, operation: str, issuer_id: str | None = None) -> Fault | None:
        """Consume one use of the first matching fault, atomically."""
        with self.db.transaction():
            row = self.db.one(
                "SELECT * FROM faults WHERE target = ? AND operation IN (?, '*') "
                "AND (issuer_id IS NULL OR issuer_id = ?) AND (remaining IS NULL OR remaining > 0) "
                "ORDER BY id LIMIT 1",
                (target, operation, issuer_id),
            )
            if row is None:
                return None
            self.db.execute(
                "UPDATE faults SET hits = hits + 1, remaining = CASE WHEN remaining IS NULL THEN NULL "
                "ELSE remaining - 1 END WHERE id = ?", (row["id"],))
        return Fault(status=row["status"], delay_ms=row["delay_ms"], timeout=bool(row["timeout"]),
                     description=f"sandbox fault #{row['id']} on {target}/{operation}")

    def hook(self, target: str, issuer_id: str | None = None):
        """A fault hook for an OutboundClient talking to `target`."""
        def _hook(operation: str) -> Fault | None:
            if self.db.scalar("SELECT COUNT(*) FROM faults") == 0:  # the common case: one cheap read
                return None
            return self.take(target, operation, issuer_id)
        return _hook

    @staticmethod
    def _public(row: dict) -> dict:
        return {
            "id": row["id"], "target": row["target"], "operation": row["operation"], "issuerId": row["issuer_id"],
            "status": row["status"], "delay_ms": row["delay_ms"], "timeout": bool(row["timeout"]),
            "remaining": row["remaining"], "hits": row["hits"],
        }
