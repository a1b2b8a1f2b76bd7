"""The TSP: tokenization requests, step-up OTP (generated and validated here, delivered by D1 or the
issuer through the messaging service), activation and the token lifecycle.

Every state change is one transaction, with the issuer's notification enqueued inside it
(simulator/notify.py); errors are raised after the commit, so a wrong OTP still counts. Everything
is journaled under the tokenRefId."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from d1sandbox.demo import with_check_digit
from d1sandbox.errors import ApiError, Conflict, NotFound, ValidationFailed

from ..consumers import Consumer, fetch_consumer
from ..messaging.service import OtpContext, messaging_for
from ..notify import enqueue_consumer_notification
from ..otp import OtpPolicy, OtpResult, engine_for
from .decision import APPROVED, DECLINED, REQUIRE_STEP_UP, CardFacts, RiskData, TspSettings, decide

WALLET, TSP, D1 = "Wallet", "TSP", "D1"
INACTIVE, ACTIVE, SUSPENDED, DELETED = "INACTIVE", "ACTIVE", "SUSPENDED", "DELETED"
STATUS_DECLINED = "DECLINED"
PURPOSE = "TOKENIZATION"
# Token BINs of the sandbox TSP, per scheme (token numbers are Luhn-valid, never real PANs).
TOKEN_BINS = {"visa": "4895370", "mastercard": "5204730", "amex": "3400000", "jcb": "3528000", "discover": "6011000"}
KNOWN_WALLETS = {"40010030273": "Apple Pay", "40010075001": "Google Pay", "40010043095": "Samsung Pay"}
METHOD_IDS = {"SMS": "sms-1", "EMAIL": "email-1"}
TRANSITIONS = {  # operation → (allowed from, to, consumer event)
    "suspend": ({ACTIVE}, SUSPENDED, "TOKEN_SUSPENDED"),
    "resume": ({SUSPENDED}, ACTIVE, "TOKEN_RESUMED"),
    "delete": ({INACTIVE, ACTIVE, SUSPENDED}, DELETED, "TOKEN_DELETED"),
}


class TokenNotFound(NotFound):
    def __init__(self):
        super().__init__("unknown tokenRefId", error="token_not_found", fields={"tokenRefId": ["unknown token"]})


class TokenStateConflict(Conflict):
    def __init__(self, message: str, status: str, error: str = "invalid_token_state"):
        super().__init__(message, error=error, extra={"tokenStatus": status})


class OtpRejected(ApiError):
    """A submitted activation OTP that did not activate the token (reason in `error`/`reason`)."""

    def __init__(self, message: str, *, status: int, error: str, token_status: str, remaining: int = 0):
        super().__init__(message, status=status, error=error, fields={"otp": [message]},
                         extra={"reason": error.removeprefix("otp_").upper(), "tokenStatus": token_status,
                                "remainingAttempts": remaining})


@dataclass(frozen=True)
class TokenizeRequest:
    token_requestor_id: str
    card_id: str | None = None
    pan: str | None = None
    expiry: str | None = None
    issuer_id: str | None = None
    device: dict | None = None
    risk: dict | None = None
    locale: str | None = None
    raw: dict | None = None  # the wire body, journaled (redacted) as the wallet's request


class TokenService:
    def __init__(self, rt):
        self.rt = rt

    # -- tokenize ------------------------------------------------------------------------------
    def tokenize(self, req: TokenizeRequest) -> dict:
        rt = self.rt
        card = self._card(req)
        token_ref_id = "DNITHE" + uuid.uuid4().hex[:20].upper()
        rt.journal.record(token_ref_id, WALLET, TSP, "POST /tsp/v1/tokenize", req.raw, kind="request",
                          method="POST", path="/tsp/v1/tokenize")
        issuer_id = card["issuer_id"]
        consumer = fetch_consumer(rt, issuer_id, card["consumer_id"], correlation=token_ref_id)
        reachable = set()
        if consumer and consumer.phone:
            reachable.add("SMS")
        if consumer and consumer.email:
            reachable.add("EMAIL")
        risk = req.risk or {}
        live = rt.db.scalar("SELECT COUNT(*) FROM tokens WHERE card_id = ? AND status IN (?, ?, ?)",
                            (card["card_id"], INACTIVE, ACTIVE, SUSPENDED))
        settings = TspSettings.from_config(rt.issuers.config(issuer_id).get("tsp"))
        verdict = decide(
            CardFacts(card["behavior"], card["state"], req.pan is None or req.expiry == card["expiry"], live),
            RiskData(risk.get("deviceScore"), risk.get("accountScore"), risk.get("recommendation"),
                     tuple(risk.get("reasonCodes") or ())),
            settings, reachable)
        methods = [{"id": METHOD_IDS[m], "type": m, "target": _masked(consumer, m)} for m in verdict.methods]
        status = {APPROVED: ACTIVE, REQUIRE_STEP_UP: INACTIVE, DECLINED: STATUS_DECLINED}[verdict.decision]
        now = rt.clock.now()
        token_number = None if verdict.decision == DECLINED else self._token_number(card["scheme"])
        row = {
            "token_ref_id": token_ref_id, "issuer_id": issuer_id, "card_id": card["card_id"],
            "consumer_id": card["consumer_id"], "token_requestor_id": req.token_requestor_id,
            "wallet": KNOWN_WALLETS.get(req.token_requestor_id, "Token requestor " + req.token_requestor_id),
            "token_ref": rt.keyed_hash(token_number, "token") if token_number else None,
            "token_last4": token_number[-4:] if token_number else None,
            "token_expiry": self._token_expiry() if token_number else None,
            "pan_last4": card["pan_last4"], "status": status, "decision": verdict.decision,
            "reasons": list(verdict.reasons), "step_up_methods": methods, "challenge_id": None,
            "otp_method_id": None, "device": req.device or {}, "risk": risk,
            "locale": (consumer.locale if consumer else None) or (req.device or {}).get("language") or req.locale,
            "created_at": now, "updated_at": now, "activated_at": now if status == ACTIVE else None,
        }
        with rt.db.transaction():
            rt.db.insert("tokens", row)
            self._event(token_ref_id, f"TOKENIZE_{verdict.decision}", TSP, status, ",".join(verdict.reasons))
            if verdict.decision == DECLINED:
                self._notify(row, "TOKEN_DECLINED")
            else:
                self._notify(row, "TOKEN_CREATED")
                if status == ACTIVE:
                    self._notify(row, "TOKEN_ACTIVATED")
        rt.journal.record(token_ref_id, TSP, TSP, "tokenization decision",
                          {"decision": verdict.decision, "reasons": list(verdict.reasons),
                           "stepUpMethods": methods, "cardBehavior": card["behavior"]}, kind="note")
        return self.wallet_view(token_ref_id)

    # -- step-up OTP ---------------------------------------------------------------------------
    def request_otp(self, token_ref_id: str, method_id: str) -> dict:
        """Generate (or regenerate) the activation OTP and have it delivered by the chosen method."""
        rt = self.rt
        token = self._token(token_ref_id)
        if token["status"] != INACTIVE or token["decision"] != REQUIRE_STEP_UP:
            raise TokenStateConflict(f"the token is {token['status']}; an OTP is only sent for a token awaiting "
                                     f"step-up", token["status"])
        methods = {m["id"]: m for m in json.loads(token["step_up_methods"] or "[]")}
        method = methods.get(method_id)
        if method is None:
            raise ValidationFailed("unknown methodId for this token",
                                   fields={"methodId": [f"must be one of {sorted(methods)}"]})
        channel = method["type"]
        issuer_id = token["issuer_id"]
        config = rt.issuers.config(issuer_id)
        # The TSP generates the OTP; D1 delivers it (itself, or through the issuer's DeliverOTP) with the
        # contact details the issuer backend gives it.
        rt.journal.record(token_ref_id, TSP, D1, "deliver OTP on the issuer's behalf",
                          {"methodId": method_id, "channel": channel, "target": method["target"],
                           "mode": config.get("otp_delivery", "D1")}, kind="request")
        consumer = fetch_consumer(rt, issuer_id, token["consumer_id"], correlation=token_ref_id)
        contact = _contact(consumer, channel)
        policy = OtpPolicy.from_issuer_config(config.get("otp_policy"))
        engine = engine_for(rt)
        subject = f"{issuer_id}:{token['consumer_id']}"
        # The engine rate-limits per target: the real address when D1 knows it, else a per-consumer key.
        target = contact or f"{subject}:{channel}"
        # One transaction: the new code and the token's link to it exist together or not at all (a
        # resend kills the previous code, so a failure in between used to leave the cardholder with no
        # working code). The token is read again under the write lock: a concurrent request may have
        # issued a challenge meanwhile.
        with rt.db.transaction():
            token = self._token(token_ref_id)
            if token["status"] != INACTIVE:
                raise TokenStateConflict(f"the token is {token['status']}; an OTP is only sent for a token "
                                         f"awaiting step-up", token["status"])
            previous = engine.get(token["challenge_id"]) if token["challenge_id"] else None
            if previous and previous["status"] in ("ACTIVE", "EXPIRED"):
                issued = engine.resend(token["challenge_id"], target=target)
            else:
                issued = engine.issue(PURPOSE, subject, target, policy, correlation=token_ref_id)
            rt.db.update("tokens", {"token_ref_id": token_ref_id},
                         {"challenge_id": issued.challenge_id, "otp_method_id": method_id,
                          "updated_at": rt.clock.now()})
            self._event(token_ref_id, "OTP_REQUESTED", WALLET, INACTIVE, method_id)
        rt.journal.link(token_ref_id, issued.challenge_id)
        delivery = messaging_for(rt).send_otp(
            issuer_id, consumer if consumer is not None else token["consumer_id"], channel, issued.code,
            OtpContext(purpose=PURPOSE, correlation=token_ref_id, ttl_seconds=policy.ttl_seconds,
                       expires_at=issued.expires_at, card_id=token["card_id"], pan_last4=token["pan_last4"],
                       # The consumer's own locale (from the issuer) wins; the device language is the fallback.
                       accept_language=token["locale"]))
        if not delivery.ok:
            # The code never reached the cardholder: it must not stay usable.
            with rt.db.transaction():
                engine.cancel(issued.challenge_id)
                rt.db.update("tokens", {"token_ref_id": token_ref_id},
                             {"challenge_id": None, "updated_at": rt.clock.now()})
                self._event(token_ref_id, "OTP_NOT_DELIVERED", D1, INACTIVE, delivery.error)
            delivery.raise_for_status()
        return {"tokenRefId": token_ref_id, "methodId": method_id, "type": channel, "target": method["target"],
                "expiresAt": rt.clock.isoformat(issued.expires_at), "resendsLeft": issued.resends_left,
                "delivery": {k: v for k, v in delivery.view().items() if k in ("mode", "status", "locale")}}

    # -- activation ----------------------------------------------------------------------------
    def activate(self, token_ref_id: str, otp: str) -> dict:
        rt = self.rt
        token = self._token(token_ref_id)
        if token["status"] != INACTIVE:
            raise TokenStateConflict(f"the token is {token['status']}, not awaiting activation", token["status"])
        if not token["challenge_id"]:
            raise TokenStateConflict("no OTP has been sent yet: POST /tsp/v1/tokens/{tokenRefId}/otp first",
                                     token["status"], error="otp_not_requested")
        now = rt.clock.now()
        with rt.db.transaction():
            check = engine_for(rt).verify(token["challenge_id"], otp)
            if check.result is OtpResult.OK:
                rt.db.update("tokens", {"token_ref_id": token_ref_id},
                             {"status": ACTIVE, "activated_at": now, "updated_at": now})
                self._event(token_ref_id, "ACTIVATED", WALLET, ACTIVE, "OTP verified")
                self._notify(token, "TOKEN_ACTIVATED")
            elif check.result is OtpResult.LOCKED:
                rt.db.update("tokens", {"token_ref_id": token_ref_id},
                             {"status": STATUS_DECLINED, "updated_at": now})
                self._event(token_ref_id, "DECLINED", TSP, STATUS_DECLINED, "OTP attempts exhausted")
                self._notify(token, "TOKEN_DECLINED")
            else:
                self._event(token_ref_id, f"OTP_{check.result.value}", WALLET, INACTIVE, None)
        if check.result is OtpResult.OK:
            return {"tokenRefId": token_ref_id, "status": ACTIVE}
        if check.result is OtpResult.WRONG:
            raise OtpRejected(f"incorrect OTP; {check.remaining_attempts} attempt(s) left", status=400,
                              error="otp_incorrect", token_status=INACTIVE, remaining=check.remaining_attempts)
        if check.result is OtpResult.EXPIRED:
            raise OtpRejected("the OTP has expired; request a new one", status=400, error="otp_expired",
                              token_status=INACTIVE, remaining=check.remaining_attempts)
        if check.result is OtpResult.LOCKED:
            raise OtpRejected("no OTP attempts left; the token is declined", status=403,
                              error="otp_attempts_exhausted", token_status=STATUS_DECLINED)
        raise TokenStateConflict("no valid OTP for this token; request a new one", INACTIVE,
                                 error="otp_not_requested")

    # -- lifecycle -----------------------------------------------------------------------------
    def change(self, token_ref_id: str, operation: str, *, actor: str, reason: str | None = None,
               issuer_id: str | None = None) -> dict:
        """suspend / resume / delete, by the wallet (`actor` "Wallet") or the issuer ("Issuer backend").
        The issuer is notified of changes it did not make itself."""
        rt = self.rt
        allowed, target, event = TRANSITIONS[operation]
        with rt.db.transaction():
            token = self._token(token_ref_id, issuer_id)
            if token["status"] not in allowed:
                raise TokenStateConflict(f"cannot {operation} a token that is {token['status']}", token["status"])
            now = rt.clock.now()
            rt.db.update("tokens", {"token_ref_id": token_ref_id}, {"status": target, "updated_at": now})
            if target == DELETED and token["challenge_id"]:
                engine_for(rt).cancel(token["challenge_id"])
            self._event(token_ref_id, operation.upper(), actor, target, reason)
            if actor != "Issuer backend":
                self._notify(token, event)
        return self.issuer_view(token_ref_id)

    def delete_for_card(self, issuer_id: str, card_id: str, *, reason: str) -> list[str]:
        """Delete every token of a card that is not deleted or declined yet (the card was deleted);
        returns their tokenRefIds. Joins the caller's transaction."""
        allowed = TRANSITIONS["delete"][0]
        rows = self.rt.db.all(
            f"SELECT token_ref_id FROM tokens WHERE issuer_id = ? AND card_id = ? "
            f"AND status IN ({', '.join('?' * len(allowed))}) ORDER BY created_at",
            (issuer_id, card_id, *sorted(allowed)))
        for row in rows:
            self.change(row["token_ref_id"], "delete", actor="D1", reason=reason, issuer_id=issuer_id)
        return [row["token_ref_id"] for row in rows]

    # -- views ---------------------------------------------------------------------------------
    def wallet_view(self, token_ref_id: str) -> dict:
        token = self._token(token_ref_id)
        view = {"tokenRefId": token["token_ref_id"], "decision": token["decision"], "status": token["status"],
                "reasons": json.loads(token["reasons"] or "[]"),
                "stepUpMethods": json.loads(token["step_up_methods"] or "[]"),
                "panLast4": token["pan_last4"]}
        if token["token_last4"]:
            view["tokenInfo"] = {"tokenLast4": token["token_last4"], "tokenExpiry": token["token_expiry"]}
        return view

    def issuer_view(self, token_ref_id: str, issuer_id: str | None = None) -> dict:
        rt = self.rt
        token = self._token(token_ref_id, issuer_id)
        view = {**self.wallet_view(token_ref_id), "issuerId": token["issuer_id"], "cardId": token["card_id"],
                "consumerId": token["consumer_id"], "tokenRequestorId": token["token_requestor_id"],
                "wallet": token["wallet"], "device": json.loads(token["device"] or "{}"),
                "createdAt": rt.clock.isoformat(token["created_at"]),
                "updatedAt": rt.clock.isoformat(token["updated_at"]),
                "activatedAt": rt.clock.isoformat(token["activated_at"]) if token["activated_at"] else None}
        if token["challenge_id"]:
            otp = engine_for(rt).get(token["challenge_id"]) or {}
            view["otp"] = {"methodId": token["otp_method_id"], "status": otp.get("status"),
                           "remainingAttempts": otp.get("remainingAttempts"), "resendsLeft": otp.get("resendsLeft"),
                           "expiresAt": otp.get("expiresAt")}
        view["events"] = [{"event": e["event"], "actor": e["actor"], "status": e["status"], "reason": e["reason"],
                           "at": rt.clock.isoformat(e["at"])}
                          for e in rt.db.all("SELECT * FROM token_events WHERE token_ref_id = ? ORDER BY id",
                                             (token_ref_id,))]
        return view

    def list_for_issuer(self, issuer_id: str, card_id: str | None = None, status: str | None = None) -> list[dict]:
        sql, params = "SELECT token_ref_id FROM tokens WHERE issuer_id = ?", [issuer_id]
        if card_id:
            sql += " AND card_id = ?"
            params.append(card_id)
        if status:
            sql += " AND status = ?"
            params.append(status)
        rows = self.rt.db.all(sql + " ORDER BY created_at DESC, rowid DESC LIMIT 500", params)
        return [self.issuer_view(r["token_ref_id"]) for r in rows]

    # -- internals -----------------------------------------------------------------------------
    def _card(self, req: TokenizeRequest) -> dict:
        rt = self.rt
        if req.card_id:
            row = rt.db.get("cards", card_id=req.card_id)
            field = "cardId"
        else:
            row = rt.db.one("SELECT * FROM cards WHERE pan_ref = ? ORDER BY created_at DESC LIMIT 1",
                            (rt.pan_ref(req.pan),))
            field = "pan"
        if row is None or (req.issuer_id and row["issuer_id"] != req.issuer_id):
            raise NotFound("no such card is registered in D1", error="card_not_found",
                           fields={field: ["unknown card"]})
        return row

    def _token(self, token_ref_id: str, issuer_id: str | None = None) -> dict:
        row = self.rt.db.get("tokens", token_ref_id=token_ref_id)
        if row is None or (issuer_id and row["issuer_id"] != issuer_id):
            raise TokenNotFound()
        return row

    def _token_number(self, scheme: str) -> str:
        prefix = TOKEN_BINS.get(scheme, TOKEN_BINS["visa"])
        body = prefix + "".join(secrets.choice("0123456789") for _ in range(15 - len(prefix)))
        return with_check_digit(body)

    def _token_expiry(self) -> str:
        return (self.rt.clock.utcnow() + timedelta(days=3 * 365)).strftime("%y%m")

    def _event(self, token_ref_id: str, event: str, actor: str, status: str, reason: str | None) -> None:
        self.rt.db.insert("token_events", {"token_ref_id": token_ref_id, "event": event, "actor": actor,
                                           "status": status, "reason": reason, "at": self.rt.clock.now()})

    def _notify(self, token: dict, event: str) -> None:
        enqueue_consumer_notification(self.rt, token["issuer_id"], token["consumer_id"], event,
                                      correlation=token["token_ref_id"], cardId=token["card_id"],
                                      tokenRefId=token["token_ref_id"],
                                      tokenRequestorId=token["token_requestor_id"])


def _contact(consumer: Consumer | None, channel: str) -> str | None:
    if consumer is None:
        return None
    return consumer.phone if channel == "SMS" else consumer.email


def _masked(consumer: Consumer | None, channel: str) -> str | None:
    from ..otp import mask_target

    value = _contact(consumer, channel)
    return mask_target(value) if value else None


def tokens_for(rt) -> TokenService:
    service = rt.services.get("tsp")
    if service is None:
        service = rt.services.setdefault("tsp", TokenService(rt))
    return service


__all__ = ["TokenService", "TokenizeRequest", "tokens_for"]
