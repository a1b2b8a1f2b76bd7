"""The sandbox phone network and mailboxes: every SMS/email delivered to a handset or mailbox,
whoever sent it (D1 or the issuer's own gateway). The only place an OTP is ever shown."""

from __future__ import annotations

import uuid

from d1sandbox.clock import Clock
from d1sandbox.db import Database, loads

STATUSES = ("queued", "sent", "delivered", "failed", "blocked")


class Inbox:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock

    def deliver(self, *, channel: str, to: str, sender: str, sent_by: str, body: str, subject: str | None = None,
                status: str = "delivered", issuer_id: str | None = None, correlation: str | None = None,
                history: list[dict] | None = None) -> dict:
        now = self.clock.now()
        message_id = "msg-" + uuid.uuid4().hex[:16]
        history = history or [{"status": status, "at": self.clock.isoformat(now)}]
        with self.db.transaction():
            self.db.insert("messages", {
                "id": message_id, "channel": channel, "to_addr": to, "from_addr": sender, "sent_by": sent_by,
                "body": body, "subject": subject, "status": status, "status_history": history,
                "issuer_id": issuer_id, "correlation": correlation, "created_at": now, "updated_at": now,
            })
        return self.get(message_id)

    def set_status(self, message_id: str, status: str, detail: str | None = None, *, body: str | None = None,
                   **extra) -> None:
        """Append a status (with an optional human `detail` and extra keys such as `provider`) to the
        message's history. `body` replaces the stored text (the OTP only goes in once delivered)."""
        with self.db.transaction():
            row = self.db.get("messages", id=message_id)
            if row is None:
                return
            history = loads(row["status_history"], [])
            entry = {"status": status, "at": self.clock.isoformat()}
            if detail:
                entry["detail"] = detail
            entry.update({k: v for k, v in extra.items() if v is not None})
            history.append(entry)
            values = {"status": status, "status_history": history, "updated_at": self.clock.now()}
            if body is not None:
                values["body"] = body
            self.db.update("messages", {"id": message_id}, values)

    def get(self, message_id: str) -> dict | None:
        row = self.db.get("messages", id=message_id)
        return _public(row, self.clock) if row else None

    def list(self, to: str | None = None, channel: str | None = None, limit: int = 100,
             correlation: str | None = None) -> list[dict]:
        where, params = [], []
        if correlation:
            where.append("correlation = ?")
            params.append(correlation)
        if to:
            where.append("to_addr = ?")
            params.append(to)
        if channel:
            where.append("channel = ?")
            params.append(channel)
        sql = "SELECT * FROM messages"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        params.append(limit)
        return [_public(row, self.clock) for row in self.db.all(sql, params)]


def _public(row: dict, clock: Clock) -> dict:
    out = {
        "id": row["id"], "channel": row["channel"], "to": row["to_addr"], "from": row["from_addr"],
        "sent_by": row["sent_by"], "body": row["body"], "status": row["status"],
        "status_history": loads(row["status_history"], []), "created_at": clock.isoformat(row["created_at"]),
    }
    if row["subject"] is not None:
        out["subject"] = row["subject"]
    if row["correlation"]:
        out["correlation"] = row["correlation"]
    # Why a message did not arrive: the detail of its last failed/blocked status.
    if row["status"] in ("failed", "blocked"):
        last = out["status_history"][-1] if out["status_history"] else {}
        out["reason"] = last.get("detail")
    return out
