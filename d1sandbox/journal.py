"""The journal: every message each service exchanged, both directions, in order, redacted.

Entries are grouped by a *correlation* (one transaction); any of a transaction's IDs
(threeDSServerTransID, acsTransID, dsTransID, tokenRefId, …) is registered as an alias of it, so
`for_transaction()` finds the whole exchange from whichever ID the caller holds. Redaction happens
here, on the way in: nothing unredacted is ever stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from .clock import Clock
from .db import Database, loads
from .redact import redact

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    correlation TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    label TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'message',
    method TEXT,
    path TEXT,
    status INTEGER,
    body TEXT
);
CREATE INDEX IF NOT EXISTS journal_correlation ON journal(correlation, id);
CREATE TABLE IF NOT EXISTS journal_alias (
    alias TEXT PRIMARY KEY,
    correlation TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Extended:
    """A journal body that is another body plus some keys (see `Journal.record_many`)."""

    base: dict
    extra: dict


class Journal:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock

    @staticmethod
    def create_schema(db: Database) -> None:
        db.conn.executescript(SCHEMA_SQL)

    def link(self, correlation: str, *aliases: str | None) -> None:
        for alias in aliases:
            if alias and alias != correlation:
                self.db.execute(
                    "INSERT OR IGNORE INTO journal_alias (alias, correlation) VALUES (?, ?)",
                    (str(alias), correlation),
                )

    def resolve(self, transaction_id: str) -> str:
        row = self.db.one("SELECT correlation FROM journal_alias WHERE alias = ?", (transaction_id,))
        return row["correlation"] if row else transaction_id

    def record(
        self,
        correlation: str | None,
        source: str,
        target: str,
        label: str,
        body: Any = None,
        *,
        kind: str = "message",
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        aliases: Iterable[str | None] = (),
        secrets: Iterable[str] = (),
    ) -> int:
        """Store one message. `secrets` are extra literal values to mask (e.g. an OTP inside an SMS)."""
        correlation = correlation or "-"
        safe = redact(body, tuple(s for s in secrets if s)) if body is not None else None
        with self.db.transaction():
            entry_id = self.db.insert(
                "journal",
                {
                    "ts": self.clock.now(),
                    "correlation": correlation,
                    "source": source,
                    "target": target,
                    "label": label,
                    "kind": kind,
                    "method": method,
                    "path": redact(path) if path else path,
                    "status": status,
                    "body": None if safe is None else json.dumps(safe, ensure_ascii=False, default=str),
                },
            )
            self.link(correlation, *aliases)
        return entry_id

    def record_many(self, correlation: str | None, entries: Iterable[dict],
                    aliases: Iterable[str | None] = ()) -> None:
        """Store several messages of one transaction at once (one statement, one redaction per
        distinct body object): for hot paths such as the DS's AReq → ARes, where the same message
        is journaled on two legs. Each entry holds `record()`'s arguments: source, target, label,
        body, kind, method, path, status. A body may be `Extended(base, extra)`: another entry's
        body plus a few keys (redaction works key by key, so the base is redacted only once)."""
        correlation = correlation or "-"
        now = self.clock.now()
        safe: dict[int, Any] = {}
        serialised: dict[int, str | None] = {}

        def redacted(body: Any) -> Any:
            key = id(body)
            if key not in safe:
                if isinstance(body, Extended):
                    safe[key] = {**redacted(body.base), **redact(body.extra)}
                else:
                    safe[key] = redact(body)
            return safe[key]

        rows = []
        for entry in entries:
            body = entry.get("body")
            key = id(body)
            if key not in serialised:
                serialised[key] = None if body is None else json.dumps(redacted(body), ensure_ascii=False,
                                                                       default=str)
            path = entry.get("path")
            rows.append((now, correlation, entry["source"], entry["target"], entry["label"],
                         entry.get("kind", "message"), entry.get("method"), redact(path) if path else path,
                         entry.get("status"), serialised[key]))
        with self.db.transaction():
            self.db.conn.executemany(
                "INSERT INTO journal (ts, correlation, source, target, label, kind, method, path, status, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO journal_alias (alias, correlation) VALUES (?, ?)",
                [(str(a), correlation) for a in aliases if a and a != correlation])

    def for_transaction(self, transaction_id: str) -> list[dict]:
        correlation = self.resolve(transaction_id)
        rows = self.db.all("SELECT * FROM journal WHERE correlation = ? ORDER BY id", (correlation,))
        return [self._public(row) for row in rows]

    def recent(self, limit: int = 100) -> list[dict]:
        rows = self.db.all("SELECT * FROM journal ORDER BY id DESC LIMIT ?", (limit,))
        return [self._public(row) for row in rows]

    def _public(self, row: dict) -> dict:
        return {
            "id": row["id"],
            "at": self.clock.isoformat(row["ts"]),
            "transaction": row["correlation"],
            "from": row["source"],
            "to": row["target"],
            "label": row["label"],
            "kind": row["kind"],
            "method": row["method"],
            "path": row["path"],
            "status": row["status"],
            "body": loads(row["body"]),
        }


def mermaid(entries: list[dict], title: str | None = None) -> str:
    """A Mermaid sequenceDiagram of journal entries (already redacted)."""
    actors: list[str] = []
    for entry in entries:
        for actor in (entry["from"], entry["to"]):
            if actor not in actors:
                actors.append(actor)
    lines = ["sequenceDiagram"]
    if title:
        lines.append(f"    title {_safe(title)}")
    lines.append("    autonumber")
    for actor in actors:
        lines.append(f"    participant {_ident(actor)} as {_safe(actor)}")
    for entry in entries:
        text = entry["label"]
        if entry.get("status") is not None and entry["kind"] == "response":
            text = f"{text} ({entry['status']})"
        summary = _summary(entry.get("body"))
        if summary:
            text = f"{text} {summary}"
        if entry["kind"] == "note":  # a decision or event inside one party (or between two): not a message
            over = _ident(entry["from"]) if entry["from"] == entry["to"] else \
                f"{_ident(entry['from'])},{_ident(entry['to'])}"
            lines.append(f"    Note over {over}: {_safe(text)}")
            continue
        arrow = "-->>" if entry["kind"] == "response" else "->>"
        lines.append(f"    {_ident(entry['from'])}{arrow}{_ident(entry['to'])}: {_safe(text)}")
    return "\n".join(lines) + "\n"


_SUMMARY_KEYS = (
    "transStatus",
    "transStatusReason",
    "challengeCompletionInd",
    "resultsStatus",
    "errorCode",
    "decision",
    "status",
    "result",
    "error",
)


def _summary(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    parts = [f"{k}={body[k]}" for k in _SUMMARY_KEYS if isinstance(body.get(k), (str, int))]
    return "[" + ", ".join(parts) + "]" if parts else ""


def _ident(actor: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in actor) or "unknown"


def _safe(text: str) -> str:
    # Mermaid treats ';' and '#' specially inside message text.
    return str(text).replace(";", ",").replace("#", "").replace("\n", " ")
