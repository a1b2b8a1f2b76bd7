"""The 3DS transaction state machine and its table (`threeds_transactions`, simulator/store.py).

    FRICTIONLESS                                   (terminal: the ARes was final)
    CHALLENGE_PENDING ─first CReq─▶ OOB_PENDING ─approve/decline─▶ COMPLETED
            │                │  └─issuer app unreachable─▶ OTP_PENDING
            │                └────────────────────────────▶ OTP_PENDING ─right code / attempts used─▶ COMPLETED
            ├─cardholder cancels (any open state)──────────────────────────────────────────────▶ CANCELLED
            └─no CReq in time / challenge window over (any open state)─────────────────────────▶ TIMED_OUT

Every move is one database transaction guarded by the row's `version` (a concurrent CReq and the
timeout sweep cannot both win). Entering a terminal challenge state enqueues, in the same
transaction, the RReq to the 3DS Server and the 3DS notification to the issuer (both through the
durable outbox) and closes the 3DS operation the issuer sees in its history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from d1sandbox.db import loads

FRICTIONLESS = "FRICTIONLESS"
CHALLENGE_PENDING = "CHALLENGE_PENDING"
OOB_PENDING = "OOB_PENDING"
OTP_PENDING = "OTP_PENDING"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
TIMED_OUT = "TIMED_OUT"

OPEN = frozenset({CHALLENGE_PENDING, OOB_PENDING, OTP_PENDING})
TERMINAL = frozenset({FRICTIONLESS, COMPLETED, CANCELLED, TIMED_OUT})
TRANSITIONS = {
    CHALLENGE_PENDING: {OOB_PENDING, OTP_PENDING, CANCELLED, TIMED_OUT, COMPLETED},
    OOB_PENDING: {OTP_PENDING, COMPLETED, CANCELLED, TIMED_OUT},
    OTP_PENDING: {COMPLETED, CANCELLED, TIMED_OUT},
}

TIMER_KIND = "threeds.challenge-timer"
FIRST_CREQ_SECONDS = 30.0  # EMV: the first CReq must reach the ACS within 30 s of the ARes


class StaleTransaction(Exception):
    """Another request moved the transaction first; re-read and decide again."""


class IllegalTransition(Exception):
    pass


@dataclass
class Transaction:
    row: dict

    def __getattr__(self, name: str) -> Any:
        try:
            return self.row[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def purchase_info(self) -> dict:
        value = self.row.get("purchase")
        return value if isinstance(value, dict) else (loads(value, {}) or {})

    @property
    def is_open(self) -> bool:
        return self.row["state"] in OPEN

    def ids(self) -> dict:
        out = {"threeDSServerTransID": self.row["threeds_server_trans_id"], "dsTransID": self.row["ds_trans_id"],
               "acsTransID": self.row["acs_trans_id"]}
        if self.row.get("sdk_trans_id"):
            out["sdkTransID"] = self.row["sdk_trans_id"]
        return out


class Transactions:
    """Reads and guarded writes of `threeds_transactions`. Call writes inside `db.transaction()`."""

    def __init__(self, db, clock):
        self.db = db
        self.clock = clock

    def get(self, acs_trans_id: str) -> Transaction | None:
        row = self.db.get("threeds_transactions", acs_trans_id=acs_trans_id)
        return Transaction(row) if row else None

    def by_server_id(self, threeds_server_trans_id: str) -> Transaction | None:
        row = self.db.get("threeds_transactions", threeds_server_trans_id=threeds_server_trans_id)
        return Transaction(row) if row else None

    def insert(self, row: dict) -> None:
        now = self.clock.now()
        full = {"version": 1, "created_at": now, "updated_at": now, "sdk_counter": 0, "acs_counter": 0,
                "interaction_counter": 0, "rreq_status": "NONE", **row}
        if isinstance(full.get("purchase"), dict):
            full["purchase"] = json.dumps(full["purchase"], separators=(",", ":"))
        self.db.insert("threeds_transactions", full)

    def update(self, tx: Transaction, values: dict, *, state: str | None = None) -> Transaction:
        """Write `values` (and move to `state`) if nobody changed the row since `tx` was read."""
        current = tx.row["state"]
        if state is not None and state != current:
            if state not in TRANSITIONS.get(current, ()):
                raise IllegalTransition(f"{current} → {state}")
            values = {**values, "state": state}
        values = {**values, "version": tx.row["version"] + 1, "updated_at": self.clock.now()}
        sets = ", ".join(f"[{k}] = ?" for k in values)
        cur = self.db.execute(
            f"UPDATE threeds_transactions SET {sets} WHERE acs_trans_id = ? AND version = ?",
            [*(json.dumps(v) if isinstance(v, (dict, list)) else v for v in values.values()),
             tx.row["acs_trans_id"], tx.row["version"]])
        if cur.rowcount != 1:
            raise StaleTransaction(tx.row["acs_trans_id"])
        return Transaction({**tx.row, **values})

    def due(self, now: float, limit: int = 100) -> list[Transaction]:
        """Open challenges whose deadline has passed (for the sweep)."""
        # The literal state list matches the partial index threeds_transactions_open (store.py).
        rows = self.db.all(
            "SELECT * FROM threeds_transactions WHERE state IN ('CHALLENGE_PENDING', 'OOB_PENDING', 'OTP_PENDING') "
            "AND (challenge_deadline <= ? OR (state = ? AND first_creq_deadline <= ?)) "
            "ORDER BY challenge_deadline LIMIT ?", (now, CHALLENGE_PENDING, now, limit))
        return [Transaction(r) for r in rows]


def deadline_passed(tx: Transaction, now: float) -> str | None:
    """Which deadline, if any, ended this open challenge: "first-creq" or "challenge"."""
    if not tx.is_open:
        return None
    first = tx.row.get("first_creq_deadline")
    if tx.row["state"] == CHALLENGE_PENDING and first and now >= first:
        return "first-creq"
    if tx.row.get("challenge_deadline") and now >= tx.row["challenge_deadline"]:
        return "challenge"
    return None
