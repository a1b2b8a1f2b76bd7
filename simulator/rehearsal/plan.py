"""The certification rehearsal's test plan: what D1 calls on an issuer backend, and what it expects.

Each case has two halves. `perform` makes the calls through a `Probe` (D1's one outbound client,
pointed at the backend under test) and returns the exchanges; `judge` is pure — it reads those
exchanges (and facts earlier cases established) and returns the problems found. docs/rehearsal.md
is the same plan as a table."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from . import checks
from .checks import Exchange

if TYPE_CHECKING:  # the probe does HTTP; the plan only names calls
    from .runner import Probe, Target


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    title: str
    why: str  # why a real D1 cares
    perform: Callable[["Probe"], list[Exchange]]
    judge: Callable[[list[Exchange], "Target", dict], list[str]]
    needs_oauth2: bool = False
    over_whole_run: bool = False  # judged on every exchange of the rehearsal (latency)


# -- request bodies D1 sends (docs/wire-contract.md) ---------------------------------------------

def deliver_otp_body(target: "Target", otp: str, transaction_id: str, now: str, expires: str) -> dict:
    return {"otp": otp, "channel": "SMS", "purpose": "3DS", "transactionId": transaction_id,
            "cardId": target.card_id, "panLast4": "0000", "locale": "en", "expiresAt": expires,
            "merchantName": "Rehearsal Shop", "amount": "1.00", "currency": "EUR"}


def authenticate_body(target: "Target", transaction_id: str, expires: str) -> dict:
    return {"transactionId": transaction_id, "cardId": target.card_id, "panLast4": "0000",
            "appInstanceId": target.app_instance_id, "merchantName": "Rehearsal Shop", "amount": "1.00",
            "currency": "EUR", "locale": "en", "expiresAt": expires}


def consumer_notification_body(target: "Target", now: str) -> dict:
    return {"eventType": "AUTHENTICATOR_ENROLLED", "eventId": f"evt-{uuid.uuid4()}", "timestamp": now,
            "appInstanceId": target.app_instance_id}


def threeds_notification_body(now: str) -> dict:
    return {"operationId": f"op-{uuid.uuid4()}", "threeDSServerTransID": str(uuid.uuid4()),
            "dsTransID": str(uuid.uuid4()), "acsTransID": str(uuid.uuid4()), "messageVersion": "2.2.0",
            "messageCategory": "01", "deviceChannel": "02", "transStatus": "Y", "transStatusReason": None,
            "challengeMethod": "FRICTIONLESS", "eci": "05", "purchaseAmount": "100", "purchaseCurrency": "978",
            "merchantName": "Rehearsal Shop", "timestamp": now}


def without(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


def unsigned_jwt(client_id: str, now: float) -> str:
    """A JWT with `alg: none` claiming to be D1: a backend that decodes tokens without verifying them
    accepts it."""
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    claims = {"sub": client_id, "client_id": client_id, "iat": int(now), "exp": int(now) + 3600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


# -- OAuth2 for outbound calls --------------------------------------------------------------------

def _every_receiver(p: "Probe", auth: str) -> list[Exchange]:
    """One call to each receiver D1 uses, valid in every respect but its authentication."""
    now, expires = p.now(), p.later(300)
    how = "without a token" if auth == "none" else "with a forged token"
    return [
        p.call(f"consumer info {how}", "consumer", "GET", p.consumer_path(), auth=auth),
        p.call(f"DeliverOTP {how}", "otp", "POST", p.consumer_path("/otp"), auth=auth,
               body=deliver_otp_body(p.target, p.new_otp(), p.new_transaction(), now, expires)),
        p.call(f"authenticate {how}", "authentication", "POST", p.consumer_path("/authentication"), auth=auth,
               body=authenticate_body(p.target, p.new_transaction(), expires)),
        p.call(f"authentication result {how}", "authentication-result", "GET",
               p.consumer_path(f"/authentication/auth-{uuid.uuid4().hex[:12]}"), auth=auth),
        p.call(f"consumer notification {how}", "notifications", "POST", p.consumer_path("/notifications"),
               auth=auth, body=consumer_notification_body(p.target, now)),
        p.call(f"3DS notification {how}", "3ds-notification", "POST", p.card_notification_path(), auth=auth,
               body=threeds_notification_body(now)),
    ]


def _forged(p: "Probe") -> list[Exchange]:
    exchanges = _every_receiver(p, "forged-token")
    exchanges.append(p.call("consumer info with an unsigned JWT (alg none)", "consumer", "GET", p.consumer_path(),
                            auth="forged-token", token=unsigned_jwt(p.target.client_id, p.clock.now())))
    return exchanges


def _each(judge_one: Callable[[Exchange], list[str]]):
    """A judge applying one rule to every exchange of the case; `per_exchange` lets the report show
    which exchange each problem came from."""
    def judge(exchanges, target, state):
        return [problem for ex in exchanges for problem in judge_one(ex)]
    judge.per_exchange = judge_one
    return judge


# -- the plan -------------------------------------------------------------------------------------

def _authenticate(p: "Probe") -> list[Exchange]:
    ex = p.call("start an OOB authentication", "authentication", "POST", p.consumer_path("/authentication"),
                body=authenticate_body(p.target, p.new_transaction(), p.later(600)))
    if isinstance(ex.body, dict) and isinstance(ex.body.get("authenticationId"), str):
        p.state["authenticationId"] = ex.body["authenticationId"]
    return [ex]


def _authentication_result(p: "Probe") -> list[Exchange]:
    authentication_id = p.state.get("authenticationId")
    if not authentication_id:
        return []
    return [p.call("look the authentication up by id", "authentication-result", "GET",
                   p.consumer_path(f"/authentication/{authentication_id}"))]


def _judge_result(exchanges, target, state):
    if not exchanges:
        return ["no authenticationId came back from AUTHN-01, so there is nothing to look up"]
    return checks.authentication_result(exchanges[0], state["authenticationId"])


def _twice(step: str, operation: str, path_of, body_of) -> Callable[["Probe"], list[Exchange]]:
    """The same request twice, as D1's outbox does when an acknowledgement is lost."""
    def perform(p: "Probe") -> list[Exchange]:
        body = body_of(p)
        return [p.call(f"{step} (first delivery)", operation, "POST", path_of(p), body=body),
                p.call(f"{step} (redelivery)", operation, "POST", path_of(p), body=body)]
    return perform


def _authenticate_twice(p: "Probe") -> list[Exchange]:
    body = authenticate_body(p.target, p.new_transaction(), p.later(600))
    return [p.call(f"authenticate {when}", "authentication", "POST", p.consumer_path("/authentication"), body=body)
            for when in ("once", "again for the same transactionId")]


def _judge_same_authentication(exchanges, target, state):
    problems = [problem for ex in exchanges for problem in checks.status_in(ex, (200, 201, 202), ex.step)]
    if problems:
        return problems
    first, second = (ex.body.get("authenticationId") if isinstance(ex.body, dict) else None for ex in exchanges)
    if not first or first != second:
        return [f"a repeated authenticate for the same transactionId answered authenticationId {second!r}, "
                f"the first {first!r}: the cardholder gets two pushes for one payment"]
    return []


def _malformed(step: str, operation: str, method: str, path_of, variants_of) -> Callable[["Probe"], list[Exchange]]:
    def perform(p: "Probe") -> list[Exchange]:
        return [p.call(f"{step}: {name}", operation, method, path_of(p), body=body)
                for name, body in variants_of(p)]
    return perform


def _otp_variants(p: "Probe"):
    good = deliver_otp_body(p.target, p.new_otp(), p.new_transaction(), p.now(), p.later(300))
    return [("no `otp`", without(good, "otp")),
            ("`otp` is a number", {**good, "otp": 123456}),
            ("`channel` is not SMS or EMAIL", {**good, "channel": "PIGEON"}),
            ("empty object", {})]


def _authenticate_variants(p: "Probe"):
    good = authenticate_body(p.target, p.new_transaction(), p.later(600))
    return [("no `transactionId`", without(good, "transactionId")),
            ("a JSON array instead of an object", [good])]


def _notification_variants(p: "Probe"):
    good = consumer_notification_body(p.target, p.now())
    return [("unknown `eventType`", {**good, "eventType": "SOMETHING_ELSE"}),
            ("no `eventId`", without(good, "eventId"))]


def _threeds_variants(p: "Probe"):
    good = threeds_notification_body(p.now())
    return [("no `transStatus`", without(good, "transStatus")),
            ("`transStatus` \"Z\" is not an EMV value", {**good, "transStatus": "Z"})]


PLAN: list[Case] = [
    Case("AUTH-01", "oauth2", "Token endpoint issues D1 a bearer token",
         "D1 authenticates every outbound call with a client-credentials token from the issuer's token "
         "endpoint; no token, no consumer info, no OTP, no OOB.",
         lambda p: [p.token_request("D1's client credentials")],
         lambda exs, t, s: checks.token_issued(exs[0]), needs_oauth2=True),
    Case("AUTH-02", "oauth2", "Wrong client secret is refused with 401 invalid_client",
         "A token endpoint that hands out tokens for a wrong secret protects nothing; RFC 6749 §5.2 fixes the "
         "answer D1's client expects.",
         lambda p: [p.token_request("a wrong client secret", wrong_secret=True)],
         lambda exs, t, s: checks.token_refused(exs[0]), needs_oauth2=True),
    Case("AUTH-03", "oauth2", "Every receiver refuses a call without a token (401)",
         "Consumer details and OTP delivery are personal data and a payment factor: an unauthenticated "
         "receiver lets anyone read phone numbers or send OTPs in the bank's name.",
         lambda p: _every_receiver(p, "none"),
         _each(checks.unauthenticated_refused), needs_oauth2=True),
    Case("AUTH-04", "oauth2", "Every receiver refuses a forged token (401)",
         "Checking only that a bearer header is present (or decoding a JWT without verifying it) is as open "
         "as no check at all.",
         _forged, _each(checks.unauthenticated_refused), needs_oauth2=True),
    Case("CONS-01", "consumer", "Consumer information has the documented shape",
         "D1 sends SMS and email to exactly what this answer says (it cannot verify it): a phone that is not "
         "E.164 or a missing contact means the cardholder never gets the OTP.",
         lambda p: [p.call("known consumer", "consumer", "GET", p.consumer_path())],
         lambda exs, t, s: checks.consumer_info(exs[0], t.consumer_id)),
    Case("CONS-02", "consumer", "Unknown consumer is 404 with a JSON error",
         "D1 must tell 'no such consumer' (stop, fail the challenge) from a broken backend (retry, fall back); "
         "a 200 with made-up details would send an OTP to nobody.",
         lambda p: [p.call("unknown consumer", "consumer", "GET", p.consumer_path(consumer_id=p.unknown_consumer))],
         lambda exs, t, s: checks.error_answer(exs[0], (404,), "unknown consumer")),
    Case("OTP-01", "deliver-otp", "DeliverOTP accepts a valid delivery: 200/202 {deliveryId, status}",
         "When the issuer sends the SMS itself, this answer is D1's only proof the cardholder will get the "
         "code; D1 records the deliveryId for support and delivery tracking.",
         lambda p: [p.call("valid delivery", "otp", "POST", p.consumer_path("/otp"),
                           body=deliver_otp_body(p.target, p.new_otp(), p.new_transaction(), p.now(),
                                                 p.later(300)))],
         lambda exs, t, s: checks.otp_delivered(exs[0])),
    Case("OTP-02", "deliver-otp", "DeliverOTP rejects malformed bodies with 4xx",
         "A backend that 'delivers' a body without a code, or crashes on one (5xx, which D1 retries), sends "
         "cardholders empty or duplicate SMS.",
         _malformed("malformed DeliverOTP", "otp", "POST", lambda p: p.consumer_path("/otp"), _otp_variants),
         _each(lambda ex: checks.rejected_4xx(ex, f"DeliverOTP ({ex.step.split(': ', 1)[-1]})"))),
    Case("OTP-03", "deliver-otp", "DeliverOTP for an unknown consumer is refused (404/422, JSON error)",
         "Claiming to have sent an OTP to a consumer the bank does not know hides a registration mismatch "
         "between D1 and the bank; the challenge would wait for a code that never comes.",
         lambda p: [p.call("unknown consumer", "otp", "POST", p.consumer_path("/otp", consumer_id=p.unknown_consumer),
                           body=deliver_otp_body(p.target, p.new_otp(), p.new_transaction(), p.now(),
                                                 p.later(300)))],
         lambda exs, t, s: checks.error_answer(exs[0], (404, 422), "DeliverOTP for an unknown consumer")),
    Case("AUTHN-01", "authentication", "Authenticate starts an OOB step-up: 2xx {authenticationId, status PENDING}",
         "The authenticationId is the only handle D1 has to poll the cardholder's decision in the issuer app.",
         _authenticate, lambda exs, t, s: checks.authentication_started(exs[0])),
    Case("AUTHN-02", "authentication", "Authentication result by id: 200, same id, still PENDING",
         "D1 polls this until APPROVED/DECLINED/EXPIRED; a wrong id or status ends the 3DS challenge wrongly.",
         _authentication_result, _judge_result),
    Case("AUTHN-03", "authentication", "Unknown authentication id is 404 with a JSON error",
         "A made-up status for an id the bank never issued could approve a payment nobody approved.",
         lambda p: [p.call("unknown authentication id", "authentication-result", "GET",
                           p.consumer_path(f"/authentication/auth-unknown-{uuid.uuid4().hex[:12]}"))],
         lambda exs, t, s: checks.error_answer(exs[0], (404,), "unknown authentication id")),
    Case("AUTHN-04", "authentication", "Authenticate rejects malformed bodies with 4xx",
         "Pushing an approval request without a transaction to the cardholder's phone is a phishing aid.",
         _malformed("malformed authenticate", "authentication", "POST", lambda p: p.consumer_path("/authentication"),
                    _authenticate_variants),
         _each(lambda ex: checks.rejected_4xx(ex, f"authenticate ({ex.step.split(': ', 1)[-1]})"))),
    Case("AUTHN-05", "authentication", "Repeated authenticate for the same transaction gives the same authenticationId",
         "D1 retries an authenticate that timed out or got a 5xx; a backend that starts a second step-up pushes two "
         "approval requests for one payment to the cardholder's phone.",
         _authenticate_twice, _judge_same_authentication),
    Case("NOTIF-01", "notifications", "Consumer notification is acknowledged (200/202/204)",
         "D1 retries unacknowledged notifications; a backend that never says 2xx gets every event again.",
         lambda p: [p.call("authenticator enrolled", "notifications", "POST", p.consumer_path("/notifications"),
                           body=consumer_notification_body(p.target, p.now()))],
         lambda exs, t, s: checks.notification_accepted(exs[0], "consumer notification")),
    Case("NOTIF-02", "notifications", "Malformed consumer notification is rejected with 4xx",
         "Acknowledging what it cannot read means the bank silently loses token and authenticator events.",
         _malformed("malformed consumer notification", "notifications", "POST",
                    lambda p: p.consumer_path("/notifications"), _notification_variants),
         _each(lambda ex: checks.rejected_4xx(ex, f"consumer notification ({ex.step.split(': ', 1)[-1]})"))),
    Case("NOTIF-03", "notifications", "A redelivered consumer notification (same eventId) is acknowledged again",
         "D1's outbox redelivers when an acknowledgement is lost; answering 4xx/5xx to a duplicate makes D1 retry "
         "it until it is dead-lettered.",
         _twice("authenticator enrolled", "notifications", lambda p: p.consumer_path("/notifications"),
                lambda p: consumer_notification_body(p.target, p.now())),
         _each(lambda ex: checks.notification_accepted(ex, f"consumer notification {ex.step.split(' (')[-1][:-1]}"))),
    Case("TDS-01", "3ds-notification", "3DS notification is acknowledged (200/202/204)",
         "The bank's record of 3DS outcomes (disputes, fraud scoring) comes from these notifications.",
         lambda p: [p.call("frictionless outcome", "3ds-notification", "POST", p.card_notification_path(),
                           body=threeds_notification_body(p.now()))],
         lambda exs, t, s: checks.notification_accepted(exs[0], "3DS notification")),
    Case("TDS-02", "3ds-notification", "Malformed 3DS notification is rejected with 4xx",
         "Storing an outcome without a valid transStatus corrupts the bank's 3DS history.",
         _malformed("malformed 3DS notification", "3ds-notification", "POST", lambda p: p.card_notification_path(),
                    _threeds_variants),
         _each(lambda ex: checks.rejected_4xx(ex, f"3DS notification ({ex.step.split(': ', 1)[-1]})"))),
    Case("TDS-03", "3ds-notification", "A redelivered 3DS notification (same operationId) is acknowledged again",
         "The same redelivery rule: a duplicate must be acknowledged (and stored once), never refused.",
         _twice("frictionless outcome", "3ds-notification", lambda p: p.card_notification_path(),
                lambda p: threeds_notification_body(p.now())),
         _each(lambda ex: checks.notification_accepted(ex, f"3DS notification {ex.step.split(' (')[-1][:-1]}"))),
    Case("PERF-01", "latency", "Every answer arrives within the latency budget",
         "Consumer info, DeliverOTP and authenticate sit on the cardholder's challenge path: the ACS waits for "
         "them while the shopper watches a spinner, and the DS times the whole exchange out.",
         lambda p: [], lambda exs, t, s: checks.within_budget(exs, t.budget_ms), over_whole_run=True),
]


def case_ids() -> list[str]:
    return [case.id for case in PLAN]
