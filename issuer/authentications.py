"""Step-up authentications D1 asked the bank's app to run (OOB with issuer SCA, seed 004).

D1 creates one with `POST …/authentication` (PENDING); the cardholder approves or declines in the
issuer app before `expiresAt`; D1 reads the result. Past `expiresAt` (on the clock) a PENDING one is
EXPIRED and can no longer be decided. No HTTP here."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from d1sandbox.db import loads
from d1sandbox.errors import Conflict, NotFound

PENDING, APPROVED, DECLINED, EXPIRED = "PENDING", "APPROVED", "DECLINED", "EXPIRED"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class AuthenticationBook:
    def __init__(self, db, clock):
        self.db = db
        self.clock = clock

    def start(self, consumer_id: str, request: dict) -> tuple[bool, dict]:
        """A new PENDING authentication, or the existing one for the same transaction (D1 retried):
        one push to the cardholder per transaction. Returns (created, view)."""
        with self.db.transaction():
            existing = self.db.one(
                "SELECT * FROM authentications WHERE consumer_id = ? AND json_extract(request, '$.transactionId') = ?",
                (consumer_id, request["transactionId"]))
            if existing is not None:
                return False, self._view(self._expire_if_due(existing))
            auth_id = "auth-" + uuid.uuid4().hex[:20]
            self.db.insert("authentications", {
                "authentication_id": auth_id, "consumer_id": consumer_id, "status": PENDING,
                "request": json.dumps(request, sort_keys=True), "created_at": self.clock.now(), "decided_at": None})
            return True, self.get(auth_id)

    def get(self, authentication_id: str, consumer_id: str | None = None) -> dict:
        row = self.db.get("authentications", authentication_id=authentication_id)
        if row is None or (consumer_id is not None and row["consumer_id"] != consumer_id):
            raise NotFound(f"authentication {authentication_id} is unknown", error="authentication_not_found",
                           fields={"authenticationId": ["unknown"]})
        return self._view(self._expire_if_due(row))

    def list(self, consumer_id: str, status: str | None = None) -> list[dict]:
        rows = self.db.all("SELECT * FROM authentications WHERE consumer_id = ? ORDER BY created_at DESC",
                           (consumer_id,))
        views = [self._view(self._expire_if_due(row)) for row in rows]
        return [v for v in views if status is None or v["status"] == status]

    def decide(self, authentication_id: str, decision: str) -> dict:
        """APPROVED or DECLINED by the cardholder. Repeating the same decision answers the same;
        changing it, or deciding after expiry, is a conflict."""
        with self.db.transaction():
            row = self.db.get("authentications", authentication_id=authentication_id)
            if row is None:
                raise NotFound(f"authentication {authentication_id} is unknown", error="authentication_not_found",
                               fields={"authenticationId": ["unknown"]})
            row = self._expire_if_due(row)
            if row["status"] == decision:
                return self._view(row)
            if row["status"] == EXPIRED:
                raise Conflict("the authentication request expired before it was decided",
                               error="authentication_expired")
            if row["status"] != PENDING:
                raise Conflict(f"the authentication was already {row['status']}", error="already_decided")
            self.db.update("authentications", {"authentication_id": authentication_id},
                           {"status": decision, "decided_at": self.clock.now()})
            return self.get(authentication_id)

    def _expire_if_due(self, row: dict) -> dict:
        if row["status"] != PENDING:
            return row
        expires_at = loads(row["request"], {}).get("expiresAt")
        if expires_at and _epoch(expires_at) <= self.clock.now():
            with self.db.transaction():
                self.db.update("authentications", {"authentication_id": row["authentication_id"], "status": PENDING},
                               {"status": EXPIRED})
            return {**row, "status": EXPIRED}
        return row

    def _view(self, row: dict) -> dict:
        req = loads(row["request"], {})
        return {
            "authenticationId": row["authentication_id"], "consumerId": row["consumer_id"], "status": row["status"],
            "transactionId": req.get("transactionId"), "cardId": req.get("cardId"), "panLast4": req.get("panLast4"),
            "merchantName": req.get("merchantName"), "amount": req.get("amount"), "currency": req.get("currency"),
            "expiresAt": req.get("expiresAt"), "createdAt": self.clock.isoformat(row["created_at"]),
            "decidedAt": self.clock.isoformat(row["decided_at"]) if row["decided_at"] else None,
        }
