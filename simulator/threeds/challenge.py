"""The ACS's challenge: OOB approval in the issuer app, SMS OTP (sent by D1 or through the issuer's
DeliverOTP), and the fallback from one to the other — the same steps for the app and browser
channels.

A challenge starts on the first CReq. OOB: D1 asks the issuer to push an approval to its app
(`POST …/consumers/{consumerId}/authentication`) and reads the result
(`GET …/authentication/{authenticationId}`) whenever the cardholder says "continue" (oobContinue,
the page's button) or the browser page polls. When the issuer cannot push (no app, 4xx/5xx,
timeout — `/sandbox/faults` makes it happen) the challenge falls back to SMS OTP and says so. SMS
OTP: the OTP engine (simulator/otp) issues and checks the code under the issuer's policy (length,
TTL, attempts, resends, rate limit); the messaging service (simulator/messaging) delivers it, by D1
itself or by the issuer's DeliverOTP (per card: `challenge-sms-issuer` always through the issuer).

External calls happen outside any database transaction; each step then commits its state change
(and, for the app channel, the message counters) in one guarded transaction. Ending a challenge goes
through `ThreeDS.finish()`: final CRes, RReq and the issuer's notification."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from ..consumers import cached_consumer, fetch_consumer
from . import acs, i18n
from . import messages as m
from .service import ACS, ThreeDS, service
from .timers import expire_if_due
from .transactions import (
    CANCELLED,
    CHALLENGE_PENDING,
    COMPLETED,
    OOB_PENDING,
    OTP_PENDING,
    StaleTransaction,
    Transaction,
)

log = logging.getLogger("d1sandbox.threeds")

# What the cardholder can do, whichever the channel.
SHOW, SUBMIT, RESEND, CONTINUE, CANCEL, POLL = "show", "submit", "resend", "continue", "cancel", "poll"
OPERATION_AUTHENTICATE, OPERATION_RESULT = "authentication", "authentication-result"
POLL_INTERVAL = 2.0  # seconds between two issuer result reads for one transaction (browser polling)

# challengeCancel → (transStatus, transStatusReason before 2.2.0, from 2.2.0)
_CANCEL_OUTCOME = {
    "01": ("N", "01", "26"),  # cardholder cancelled: authentication attempted but not performed
    "04": ("N", "14", "14"), "05": ("N", "14", "14"), "08": ("N", "14", "14"),  # timeouts
}


@dataclass
class Step:
    """What the cardholder sees next."""

    tx: Transaction
    ui: str | None = None  # "OTP" | "OOB" while the challenge goes on; None when final
    notice: str | None = None  # i18n key of a message for the cardholder
    values: dict = field(default_factory=dict)
    warning: bool = False

    @property
    def final(self) -> bool:
        return self.ui is None


class Challenges:
    def __init__(self, rt):
        self.rt = rt
        self.svc: ThreeDS = service(rt)
        self._last_poll: dict[str, float] = {}

    # -- the cardholder acts ----------------------------------------------------------------------
    def act(self, tx: Transaction, action: str, *, code: str | None = None, cancel: str | None = None,
            extra: dict | None = None) -> Step:
        """Run one cardholder action on an open challenge and commit its effect together with
        `extra` (counters, browser session). Expired challenges end first (and say so)."""
        extra = dict(extra or {})
        timed_out = expire_if_due(self.rt, tx)
        if timed_out is not None:
            return Step(timed_out, notice="timed_out")
        if not tx.is_open:
            return Step(tx)
        if action == CANCEL:
            return self._cancel(tx, cancel or "01", extra)
        state = tx.row["state"]
        calls_out = (state == CHALLENGE_PENDING
                     or (state == OOB_PENDING and (action == CONTINUE or (action == POLL and self._may_poll(tx))))
                     or (state == OTP_PENDING and (action == RESEND or (
                         action == SUBMIT and bool(code or not tx.row.get("otp_challenge_id"))))))
        if not calls_out:  # nothing to do but show the screen again
            return Step(self._commit(tx, extra) if extra else tx, ui="OOB" if state == OOB_PENDING else "OTP")
        # Claim the step before any SMS, push or issuer call: a concurrent duplicate (a double click,
        # a replayed CReq racing the original) fails here with StaleTransaction and sends nothing.
        tx = self._commit(tx, extra)
        if state == CHALLENGE_PENDING:
            return self._start(tx, {})
        if state == OOB_PENDING:
            return self._oob(tx, action, {})
        return self._otp(tx, action, code, {})

    # -- start -------------------------------------------------------------------------------------
    def _start(self, tx: Transaction, extra: dict) -> Step:
        if tx.row["challenge_method"] == acs.OOB:
            # No retry: per the wire contract a 5xx or a timeout means "the app cannot be reached" and
            # the SMS fallback is the retry — the cardholder should not wait twice.
            result = self._issuer_call(tx, "POST", "", OPERATION_AUTHENTICATE, self._authenticate_body(tx),
                                       retries=0)
            body = result.body if isinstance(result.body, dict) else {}
            if result.ok and body.get("authenticationId"):
                tx = self._commit(tx, {**extra, "oob_authentication_id": body["authenticationId"],
                                       "oob_status": body.get("status") or "PENDING"}, OOB_PENDING)
                return Step(tx, ui="OOB")
            reason = acs.NO_APP if result.status == 409 else acs.OOB_FAILED
            self._note(tx, "OOB unavailable, falling back to SMS OTP",
                       {"authentication": result.describe(), "error": body.get("error"), "fallbackReason": reason})
            return self._start_otp(tx, extra, fallback=reason)
        return self._start_otp(tx, extra, fallback=tx.row.get("fallback_reason"))

    def _start_otp(self, tx: Transaction, extra: dict, *, fallback: str | None) -> Step:
        values = {**extra, "challenge_method": acs.SMS_OTP, "fallback_reason": fallback}
        notice = "fallback_oob_failed" if fallback == acs.OOB_FAILED else None
        issued, consumer, problem = self._issue(tx)
        if issued is None:
            return Step(self._commit(tx, values, OTP_PENDING), ui="OTP", notice=problem, warning=True)
        values["otp_challenge_id"] = issued.challenge_id
        delivery = self._deliver(tx, issued, consumer)
        tx = self._commit(tx, values, OTP_PENDING)
        if not delivery.ok:
            return Step(tx, ui="OTP", notice="send_failed", warning=True)
        return Step(tx, ui="OTP", notice=notice, values={"target": issued.target_masked})

    # -- OOB ---------------------------------------------------------------------------------------
    def _oob(self, tx: Transaction, action: str, extra: dict) -> Step:
        auth_id = tx.row["oob_authentication_id"]
        result = self._issuer_call(tx, "GET", f"/{quote(auth_id, safe='')}", OPERATION_RESULT, None)
        status = (result.body or {}).get("status") if result.ok and isinstance(result.body, dict) else None
        if status == "APPROVED":
            return self._end(tx, COMPLETED, "Y", None, extra, note="approved in the issuer app",
                             values={"oob_status": status})
        if status == "DECLINED":
            return self._end(tx, COMPLETED, "N", "01", extra, note="declined in the issuer app",
                             values={"oob_status": status})
        if status == "EXPIRED":
            return self._end(tx, COMPLETED, "N", "14", extra, note="the issuer app request expired unanswered",
                             values={"oob_status": status})
        if status is None:
            self._note(tx, "authentication result unavailable", {"result": result.describe()})
        return Step(self._commit(tx, extra) if extra else tx, ui="OOB",
                    notice="oob_waiting" if action == CONTINUE else None)

    def _may_poll(self, tx: Transaction) -> bool:
        now = self.rt.clock.now()
        key = tx.row["acs_trans_id"]
        if now - self._last_poll.get(key, 0.0) < POLL_INTERVAL:
            return False
        if len(self._last_poll) > 256:
            # An entry older than the interval means the same as no entry: drop those, so challenges that
            # ended without passing through _end (timeouts) do not accumulate.
            self._last_poll = {k: t for k, t in self._last_poll.items() if now - t < POLL_INTERVAL}
        self._last_poll[key] = now
        return True

    # -- SMS OTP -----------------------------------------------------------------------------------
    def _otp(self, tx: Transaction, action: str, code: str | None, extra: dict) -> Step:
        from ..otp import ChallengeClosed, OtpRateLimited, OtpResult, ResendLimitReached, SubjectLocked, engine_for

        engine = engine_for(self.rt)
        challenge_id = tx.row.get("otp_challenge_id")
        if action == RESEND or (action == SUBMIT and not challenge_id):
            if not challenge_id:
                return self._start_otp(tx, {**extra, **self._count(tx)}, fallback=tx.row.get("fallback_reason"))
            try:
                issued = engine.resend(challenge_id)
            except ResendLimitReached:
                return Step(self._commit(tx, extra), ui="OTP", notice="resend_limit", warning=True)
            except (OtpRateLimited, SubjectLocked):
                return Step(self._commit(tx, extra), ui="OTP", notice="rate_limited", warning=True)
            except ChallengeClosed:
                return Step(self._commit(tx, extra), ui="OTP", notice="expired_code", warning=True)
            delivery = self._deliver(tx, issued, self._consumer(tx)[0])
            tx = self._commit(tx, {**extra, **self._count(tx)})
            if not delivery.ok:
                return Step(tx, ui="OTP", notice="send_failed", warning=True)
            return Step(tx, ui="OTP", notice="resent", values={"target": issued.target_masked})
        if action != SUBMIT or not code:
            return Step(self._commit(tx, extra) if extra else tx, ui="OTP")
        # One transaction: the attempt the engine counts and the challenge's own update stand or fall
        # together (a stale CReq rolls the attempt back too).
        with self.rt.db.transaction():
            check = engine.verify(challenge_id, code)
            counted = {**extra, **self._count(tx)}
            if check.result is OtpResult.OK:
                return self._end(tx, COMPLETED, "Y", None, counted, note="the right one-time code")
            if check.result is OtpResult.LOCKED:
                return self._end(tx, COMPLETED, "N", "19", counted, note="every attempt used: challenge failed")
            if check.result is OtpResult.WRONG:
                return Step(self._commit(tx, counted), ui="OTP", notice="wrong_code", warning=True,
                            values={"remaining": check.remaining_attempts})
            return Step(self._commit(tx, counted), ui="OTP", notice="expired_code", warning=True)

    def _issue(self, tx: Transaction):
        """(issued code, consumer details, problem) — the code goes to the messaging service at once
        and nowhere else."""
        from ..otp import OtpPolicy, OtpRateLimited, SubjectLocked, engine_for

        row = tx.row
        config = self.rt.issuers.config(row["issuer_id"])
        policy = OtpPolicy.from_issuer_config(config.get("otp_policy"))
        consumer, target = self._consumer(tx)
        try:
            issued = engine_for(self.rt).issue("3DS", f"{row['issuer_id']}:{row['consumer_id']}", target, policy,
                                               correlation=row["acs_trans_id"])
        except (OtpRateLimited, SubjectLocked):
            self._note(tx, "OTP refused by the engine", {"why": "rate limit or lockout"})
            return None, consumer, "rate_limited"
        return issued, consumer, None

    def _consumer(self, tx: Transaction):
        """(consumer details, the phone the code goes to — the engine's rate-limit target). D1 mode
        asks the issuer's consumer API (D1 uses what it gets, it cannot verify it: seed 001); ISSUER
        mode uses what D1 already holds, since the issuer sends the SMS itself."""
        row = tx.row
        if row.get("otp_delivery") == "ISSUER":
            consumer = cached_consumer(self.rt, row["issuer_id"], row["consumer_id"])
        else:
            consumer = fetch_consumer(self.rt, row["issuer_id"], row["consumer_id"],
                                      correlation=row["threeds_server_trans_id"])
        target = (consumer.phone if consumer and consumer.phone else None) or f"consumer:{row['consumer_id']}"
        return consumer, target

    def _deliver(self, tx: Transaction, issued, consumer):
        from ..messaging import OtpContext, messaging_for

        row, purchase = tx.row, tx.purchase_info
        consumer = consumer or row["consumer_id"]
        amount, currency = _money(purchase)
        context = OtpContext(
            purpose="3DS", correlation=row["threeds_server_trans_id"], ttl_seconds=max(
                int(issued.expires_at - self.rt.clock.now()), 1), expires_at=issued.expires_at,
            card_id=row["card_id"], pan_last4=row["pan_last4"], locale=row.get("locale"),
            merchant_name=purchase.get("merchantName"), amount=amount, currency=currency)
        mode = row.get("otp_delivery") or None
        consumer_arg = row["consumer_id"] if mode == "ISSUER" else consumer
        return messaging_for(self.rt).send_otp(row["issuer_id"], consumer_arg, "SMS", issued.code, context,
                                               mode=mode)

    # -- cancel and end ----------------------------------------------------------------------------
    def _cancel(self, tx: Transaction, cancel: str, extra: dict) -> Step:
        status, old, new = _CANCEL_OUTCOME.get(cancel, ("N", "01", "26"))
        reason = old if tx.row["message_version"] == m.V210 else new
        why = "the cardholder cancelled" if cancel == "01" else f"the SDK reported challengeCancel {cancel}"
        return self._end(tx, CANCELLED, status, reason, {**extra, **self._count(tx)}, cancel=cancel, note=why)

    def _end(self, tx: Transaction, state: str, status: str, reason: str | None, extra: dict, *,
             cancel: str | None = None, note: str | None = None, values: dict | None = None) -> Step:
        with self.rt.db.transaction():
            fresh = self._fresh(tx)
            done = self.svc.finish(fresh, state, status, reason, cancel=cancel, note=note,
                                   extra={**extra, **(values or {})})
            if done.row.get("otp_challenge_id"):
                from ..otp import engine_for

                # In the same transaction: an open code must not outlive the challenge it belongs to.
                engine_for(self.rt).cancel(done.row["otp_challenge_id"])
        self._last_poll.pop(done.row["acs_trans_id"], None)
        return Step(done)

    # -- plumbing ----------------------------------------------------------------------------------
    def _fresh(self, tx: Transaction) -> Transaction:
        fresh = self.svc.transactions.get(tx.row["acs_trans_id"])
        if fresh is None or fresh.row["version"] != tx.row["version"]:
            raise StaleTransaction(tx.row["acs_trans_id"])
        return fresh

    def _commit(self, tx: Transaction, values: dict, state: str | None = None) -> Transaction:
        with self.rt.db.transaction():
            return self.svc.transactions.update(tx, values, state=state)

    @staticmethod
    def _count(tx: Transaction) -> dict:
        return {"interaction_counter": int(tx.row.get("interaction_counter") or 0) + 1}

    def _note(self, tx: Transaction, label: str, body: dict) -> None:
        self.rt.journal.record(tx.row["threeds_server_trans_id"], ACS, ACS, label, body, kind="note")

    def _issuer_call(self, tx: Transaction, method: str, suffix: str, operation: str, body: dict | None,
                     retries: int | None = None):
        row = tx.row
        path = (f"/banking/d1/v1/issuers/{quote(row['issuer_id'], safe='')}/consumers/"
                f"{quote(row['consumer_id'] or '', safe='')}/authentication{suffix}")
        return self.rt.issuer_link.client(row["issuer_id"]).call(
            method, path, operation=operation, json=body, correlation=row["threeds_server_trans_id"],
            retries=retries)

    def _authenticate_body(self, tx: Transaction) -> dict:
        row, purchase = tx.row, tx.purchase_info
        amount, currency = _money(purchase)
        body = {"transactionId": row["acs_trans_id"], "cardId": row["card_id"], "panLast4": row["pan_last4"],
                "appInstanceId": row.get("app_instance_id"), "merchantName": purchase.get("merchantName"),
                "amount": amount, "currency": currency, "locale": row.get("locale"),
                "expiresAt": self.rt.clock.isoformat(row["challenge_deadline"])}
        return {k: v for k, v in body.items() if v is not None}


def _money(purchase: dict) -> tuple[str | None, str | None]:
    """("49.99", "EUR") from minor units, exponent and ISO numeric currency."""
    raw, exponent = purchase.get("amount"), purchase.get("exponent")
    if not raw:
        return None, None
    try:
        amount = str(Decimal(raw).scaleb(-int(exponent or 0)))
    except (InvalidOperation, ValueError):
        amount = str(raw)
    return amount, i18n.CURRENCIES.get(str(purchase.get("currency")), purchase.get("currency"))


def challenges(rt) -> Challenges:
    svc = rt.services.get("threeds.challenges")
    if svc is None:
        svc = rt.services.setdefault("threeds.challenges", Challenges(rt))
    return svc


# -- the app channel's messages -------------------------------------------------------------------
def app_cres(rt, step: Step, counter: int) -> dict:
    """The CRes for the SDK: the next UI (acsUiType 01 text/OTP, 04 OOB) or the final result."""
    tx = step.tx
    row = tx.row
    version = row["message_version"]
    cres: dict[str, Any] = {"messageType": "CRes", "messageVersion": version, **_ids(tx),
                            "acsCounterAtoS": f"{counter % 1000:03d}"}
    if step.final:
        cres.update({"challengeCompletionInd": "Y", "transStatus": "Y" if row["trans_status"] == "Y" else "N"})
        return cres
    ui = cres_ui(rt, step)
    cres.update({"acsUiType": "04" if step.ui == "OOB" else "01", "challengeCompletionInd": "N"})
    cres["challengeInfoHeader"] = ui["header"]
    cres["challengeInfoText"] = ui["text"][:350]
    cres["challengeInfoTextIndicator"] = "Y" if step.warning else "N"
    if step.ui == "OTP":
        cres["challengeInfoLabel"] = ui["label"]
        cres["submitAuthenticationLabel"] = ui["submit"]
        cres["resendInformationLabel"] = ui["resend"]
    else:
        cres["oobContinueLabel"] = ui["continue"]
        if version != m.V210:
            cres["oobAppLabel"] = ui["open_app"][:45]
    if ui.get("notice") and version != m.V210:
        cres["challengeAddInfo"] = ui["notice"][:256]
    cres.update({"whyInfoLabel": ui["why_label"], "whyInfoText": ui["why_text"][:256],
                 "expandInfoLabel": ui["expand_label"], "expandInfoText": ui["expand_text"][:256]})
    return cres


def cres_ui(rt, step: Step) -> dict:
    """The localized words of the challenge screen (app CRes fields and browser page alike)."""
    row = step.tx.row
    locale = row.get("locale") or i18n.DEFAULT
    purchase = step.tx.purchase_info
    config = rt.issuers.config(row["issuer_id"])
    ttl = float((config.get("otp_policy") or {}).get("ttl_seconds") or 300)
    target = step.values.get("target")
    if step.ui == "OTP" and not target and row.get("otp_challenge_id") and row.get("otp_delivery") != "ISSUER":
        from ..otp import engine_for

        target = (engine_for(rt).get(row["otp_challenge_id"]) or {}).get("target")  # masked
    values = {"amount": i18n.amount(purchase, locale), "merchant": purchase.get("merchantName") or "",
              "issuer": config.get("name") or row["issuer_id"], **step.values, "target": target or "",
              "last4": row.get("pan_last4") or "", "minutes": max(int(ttl // 60), 1)}
    t = lambda key: i18n.text(locale, key, **values)  # noqa: E731
    if step.ui == "OOB":
        text = t("oob_info")
    elif row.get("otp_delivery") == "ISSUER":
        text = t("otp_info_issuer")
    else:
        text = t("otp_info") if values["target"] else t("otp_info_issuer")
    notice = t(step.notice) if step.notice else None
    body = text
    if step.warning and notice:
        text = f"{notice} {text}"  # the SDK shows one text: the warning goes first
    return {"locale": locale, "title": t("title"), "header": t("header"), "text": text, "body": body,
            "notice": notice,
            "label": t("otp_label"), "submit": t("submit"), "resend": t("resend"), "continue": t("continue"),
            "open_app": t("open_app"), "cancel": t("cancel"), "why_label": t("why_label"), "why_text": t("why_text"),
            "expand_label": t("expand_label"), "expand_text": t("expand_text"),
            "merchant_line": t("merchant_line"), "card_line": t("card_line"), "oob_label": t("oob_label")}


def _ids(tx: Transaction) -> dict:
    ids = {"threeDSServerTransID": tx.row["threeds_server_trans_id"], "acsTransID": tx.row["acs_trans_id"]}
    if tx.row.get("sdk_trans_id"):
        ids["sdkTransID"] = tx.row["sdk_trans_id"]
    return ids
