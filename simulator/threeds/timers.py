"""Challenge deadlines on the sandbox clock.

Two deadlines end a challenge nobody finishes: the first CReq must arrive within 30 s of the ARes
(else RReq with challengeCancel 05, "first CReq not received by ACS"), and the whole challenge must
end within the issuer's window, `acs.challenge_window_seconds` (default 600 s; else
challengeCancel 04, "transaction timed out at ACS"). Either way the outcome is transStatus N with
transStatusReason 14 ("transaction timed out at the ACS"), reported by RReq and to the issuer.

They are enforced three ways, all idempotent: a durable outbox timer queued with the ARes (it
re-arms itself for the next deadline), a check at the start of every CReq and status poll
(`expire_if_due`), and `sweep()` for anything a lost timer missed."""

from __future__ import annotations

import logging

from .transactions import CHALLENGE_PENDING, TIMED_OUT, TIMER_KIND, StaleTransaction, Transaction, deadline_passed

log = logging.getLogger("d1sandbox.threeds")

CANCEL_FIRST_CREQ, CANCEL_ACS_TIMEOUT = "05", "04"
REASON_TIMEOUT = "14"


def register(rt) -> None:
    rt.outbox.register(TIMER_KIND, lambda payload, row: on_timer(rt, payload))


def on_timer(rt, payload: dict) -> None:
    from .service import service

    svc = service(rt)
    sweep(rt, limit=20)  # while awake: anything else overdue (a timer lost to a crash) ends too
    tx = svc.transactions.get(payload.get("acsTransID", ""))
    if tx is None or not tx.is_open:
        return
    if expire_if_due(rt, tx) is not None:
        return
    # Not due yet (the first CReq came in time): wake up again at the next deadline.
    now = rt.clock.now()
    nxt = tx.row["challenge_deadline"]
    if tx.row["state"] == CHALLENGE_PENDING and tx.row.get("first_creq_deadline"):
        nxt = min(nxt, tx.row["first_creq_deadline"])
    with rt.db.transaction():
        rt.outbox.enqueue(TIMER_KIND, {"acsTransID": tx.row["acs_trans_id"]},
                          correlation=tx.row["threeds_server_trans_id"], delay=max(nxt - now, 0.0))


def expire_if_due(rt, tx: Transaction) -> Transaction | None:
    """End `tx` if one of its deadlines has passed; returns the timed-out transaction, else None."""
    from .service import service

    which = deadline_passed(tx, rt.clock.now())
    if which is None:
        return None
    svc = service(rt)
    cancel = CANCEL_FIRST_CREQ if which == "first-creq" else CANCEL_ACS_TIMEOUT
    why = ("no CReq reached the ACS within 30 s of the ARes" if which == "first-creq"
           else "the challenge window closed before the cardholder finished")
    try:
        with rt.db.transaction():
            fresh = svc.transactions.get(tx.row["acs_trans_id"])
            if fresh is None or not fresh.is_open:
                return None
            done = svc.finish(fresh, TIMED_OUT, "N", REASON_TIMEOUT, cancel=cancel, note=why)
    except StaleTransaction:
        return None
    _close_otp(rt, done)
    return done


def sweep(rt, limit: int = 100) -> int:
    """Time out every open challenge past its deadline; returns how many ended."""
    from .service import service

    ended = 0
    for tx in service(rt).transactions.due(rt.clock.now(), limit):
        if expire_if_due(rt, tx) is not None:
            ended += 1
    return ended


def _close_otp(rt, tx: Transaction) -> None:
    challenge_id = tx.row.get("otp_challenge_id")
    if not challenge_id:
        return
    try:
        from ..otp import engine_for

        engine_for(rt).cancel(challenge_id)
    except Exception:  # closing the code is hygiene; the transaction is already final
        log.exception("could not close OTP challenge of %s", tx.row["acs_trans_id"])
