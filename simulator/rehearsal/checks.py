"""Pure judgement of an issuer backend's answers: no HTTP, no clock, no database.

Every function takes what was observed (an `Exchange`: the request D1 made and the answer it got)
and returns the list of problems a real D1 would have with it — an empty list means "fine". The
shapes come from docs/wire-contract.md; the rules from RFC 6749/6750 for OAuth2."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from d1sandbox.redact import redact

AUTHENTICATION_STATUSES = {"PENDING", "APPROVED", "DECLINED", "EXPIRED"}
LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


@dataclass
class Exchange:
    """One call D1 made during the rehearsal and what came back (raw; `evidence()` redacts)."""

    step: str  # what this call was for, e.g. "known consumer"
    operation: str  # wire operation name (token, consumer, otp, …)
    method: str
    path: str
    auth: str  # how D1 authenticated: token | none | forged-token | basic | basic-wrong-secret
    request: Any = None
    status: int | None = None
    body: Any = None
    content_type: str | None = None
    elapsed_ms: float = 0.0
    error: str | None = None  # timeout, connection: …, oauth2: …
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def answered(self) -> bool:
        return self.error is None and self.status is not None

    def evidence(self) -> dict:
        secrets = tuple(s for s in self.secrets if s)
        return {
            "step": self.step,
            "method": self.method,
            "path": self.path,
            "auth": self.auth,
            "request": redact(self.request, secrets),
            "status": self.status,
            "response": redact(_printable(self.body), secrets),
            "contentType": self.content_type,
            "elapsedMs": round(self.elapsed_ms, 1),
            "error": self.error,
        }


# -- building blocks ------------------------------------------------------------------------------

def answered(ex: Exchange) -> list[str]:
    if ex.error:
        return [f"{ex.method} {ex.path} ({ex.step}): no answer ({ex.error})"]
    if ex.status is None:
        return [f"{ex.method} {ex.path} ({ex.step}): no answer"]
    return []


def is_json(ex: Exchange) -> bool:
    """The outbound client turns a body it cannot parse into {"_text": …}; JSON needs the media type too."""
    if ex.body is None or (isinstance(ex.body, dict) and set(ex.body) == {"_text"}):
        return False
    # The token endpoint is observed through the token cache, which does not expose headers (None).
    return ex.content_type is None or "json" in ex.content_type.lower()


def status_in(ex: Exchange, allowed: Iterable[int], what: str) -> list[str]:
    problems = answered(ex)
    if problems:
        return problems
    allowed = tuple(allowed)
    if ex.status not in allowed:
        wanted = " or ".join(str(s) for s in allowed)
        return [f"{what}: expected HTTP {wanted}, got {ex.status}"]
    return []


def json_object(ex: Exchange, what: str) -> tuple[dict | None, list[str]]:
    if not is_json(ex):
        return None, [f"{what}: answer is not JSON (Content-Type {ex.content_type or 'missing'!r})"]
    if not isinstance(ex.body, dict):
        return None, [f"{what}: answer is JSON but not an object ({type(ex.body).__name__})"]
    return ex.body, []


def string_field(body: dict, name: str, what: str, *, required: bool = True, nullable: bool = False) -> list[str]:
    if name not in body:
        return [f"{what}: `{name}` is missing"] if required else []
    value = body[name]
    if value is None:
        return [] if nullable else [f"{what}: `{name}` is null"]
    if not isinstance(value, str):
        return [f"{what}: `{name}` must be a string, got {type(value).__name__}"]
    if required and not value.strip():
        return [f"{what}: `{name}` is empty"]
    return []


def error_answer(ex: Exchange, allowed: Iterable[int], what: str) -> list[str]:
    """A rejection: the right status and the contract's JSON error body `{"error", "message"}`."""
    problems = status_in(ex, allowed, what)
    if problems:
        return problems
    body, problems = json_object(ex, f"{what} error body")
    if problems:
        return problems
    return string_field(body, "error", f"{what} error body")


def rejected_4xx(ex: Exchange, what: str) -> list[str]:
    """A malformed request must be refused by the backend's validation (4xx), not accepted and not 5xx."""
    problems = answered(ex)
    if problems:
        return problems
    if 200 <= ex.status < 300:
        return [f"{what}: accepted with HTTP {ex.status}; it must be rejected with 4xx"]
    if not 400 <= ex.status < 500:
        return [f"{what}: expected a 4xx rejection, got {ex.status}"]
    return []


# -- OAuth2 for D1's outbound calls ---------------------------------------------------------------

def token_issued(ex: Exchange) -> list[str]:
    what = "token endpoint"
    problems = status_in(ex, (200,), what)
    if problems:
        return problems
    body, problems = json_object(ex, what)
    if problems:
        return problems
    problems = string_field(body, "access_token", what)
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        problems.append(f"{what}: `token_type` must be \"Bearer\", got {token_type!r}")
    expires_in = body.get("expires_in")
    if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int)
                                   or expires_in <= 0):
        problems.append(f"{what}: `expires_in` must be a positive integer of seconds, got {expires_in!r}")
    return problems


def token_refused(ex: Exchange) -> list[str]:
    """RFC 6749 §5.2: failed client authentication → 401 `invalid_client`."""
    what = "token endpoint with a wrong client secret"
    problems = status_in(ex, (401,), what)
    if problems:
        return problems
    body, problems = json_object(ex, what)
    if problems:
        return problems
    if body.get("error") != "invalid_client":
        return [f"{what}: `error` must be \"invalid_client\" (RFC 6749 §5.2), got {body.get('error')!r}"]
    return []


def unauthenticated_refused(ex: Exchange) -> list[str]:
    problems = answered(ex)
    if problems:
        return problems
    if ex.status != 401:
        verdict = "ACCEPTED" if 200 <= ex.status < 300 else f"answered {ex.status}"
        return [f"{ex.method} {ex.path} with {_auth_phrase(ex.auth)}: {verdict}; expected 401"]
    return []


def ok_json_about(ex: Exchange, what: str, id_field: str, expected: str) -> tuple[dict | None, list[str]]:
    """A 200 JSON object naming the resource that was asked for: (body, problems), body None when the
    answer is unusable for further checks."""
    problems = status_in(ex, (200,), what)
    if problems:
        return None, problems
    body, problems = json_object(ex, what)
    if problems:
        return None, problems
    problems = string_field(body, id_field, what)
    if not problems and body[id_field] != expected:
        problems.append(f"{what}: `{id_field}` is {body[id_field]!r}, asked for {expected!r}")
    return body, problems


def _auth_phrase(auth: str) -> str:
    return {"none": "no token", "forged-token": "a forged token"}.get(auth, auth)


# -- consumer information -------------------------------------------------------------------------

def consumer_info(ex: Exchange, consumer_id: str) -> list[str]:
    what = "consumer information"
    body, problems = ok_json_about(ex, what, "consumerId", consumer_id)
    if body is None:
        return problems
    for name in ("name", "locale"):
        problems += string_field(body, name, what, required=False, nullable=True)
    if isinstance(body.get("locale"), str) and not LOCALE.match(body["locale"]):
        problems.append(f"{what}: `locale` {body['locale']!r} is not a language tag (e.g. \"en\", \"ja-JP\")")
    phone, email = body.get("phoneNumber"), body.get("email")
    if phone in (None, "") and email in (None, ""):
        problems.append(f"{what}: neither `phoneNumber` nor `email`: D1 cannot deliver an OTP")
    if phone not in (None, ""):
        problems += e164(phone, f"{what}: `phoneNumber`")
    if email not in (None, ""):
        problems += email_address(email, f"{what}: `email`")
    return problems


def e164(value: Any, what: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{what} must be a string, got {type(value).__name__}"]
    if not re.fullmatch(r"\+[1-9]\d{6,14}", value):
        return [f"{what} {value!r} is not E.164 (\"+\" then country code and number, no spaces)"]
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return [f"{what} {value!r} is not a phone number"]
    if not phonenumbers.is_possible_number(number):
        return [f"{what} {value!r} is not a possible phone number"]
    return []


def email_address(value: Any, what: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{what} must be a string, got {type(value).__name__}"]
    try:
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return [f"{what} {value!r} is not an email address ({exc})"]
    return []


# -- DeliverOTP ------------------------------------------------------------------------------------

def otp_delivered(ex: Exchange) -> list[str]:
    what = "DeliverOTP"
    problems = status_in(ex, (200, 202), what)
    if problems:
        return problems
    body, problems = json_object(ex, what)
    if problems:
        return problems
    return string_field(body, "deliveryId", what) + string_field(body, "status", what)


# -- authentication (OOB) -------------------------------------------------------------------------

def authentication_started(ex: Exchange) -> list[str]:
    what = "authenticate"
    problems = status_in(ex, (200, 201, 202), what)
    if problems:
        return problems
    body, problems = json_object(ex, what)
    if problems:
        return problems
    problems = string_field(body, "authenticationId", what)
    if body.get("status") != "PENDING":
        problems.append(f"{what}: `status` must be \"PENDING\" until the cardholder decides, "
                        f"got {body.get('status')!r}")
    return problems


def authentication_result(ex: Exchange, authentication_id: str) -> list[str]:
    what = "authentication result"
    body, problems = ok_json_about(ex, what, "authenticationId", authentication_id)
    if body is None:
        return problems
    status = body.get("status")
    if status not in AUTHENTICATION_STATUSES:
        problems.append(f"{what}: `status` must be one of {sorted(AUTHENTICATION_STATUSES)}, got {status!r}")
    elif status != "PENDING":
        problems.append(f"{what}: nobody decided yet, so `status` must still be \"PENDING\", got {status!r}")
    problems += string_field(body, "decidedAt", what, required=False, nullable=True)
    if status == "PENDING" and body.get("decidedAt") not in (None, ""):
        problems.append(f"{what}: `decidedAt` must be null while PENDING")
    return problems


# -- notifications --------------------------------------------------------------------------------

def notification_accepted(ex: Exchange, what: str) -> list[str]:
    return status_in(ex, (200, 202, 204), what)


# -- latency --------------------------------------------------------------------------------------

def within_budget(exchanges: Iterable[Exchange], budget_ms: float) -> list[str]:
    exchanges = list(exchanges)
    if not any(ex.answered for ex in exchanges):
        return ["no call was answered at all, so no latency could be measured"]
    problems = []
    for ex in exchanges:
        if ex.error == "timeout":
            problems.append(f"{ex.method} {ex.path} ({ex.step}): no answer before the timeout")
        elif ex.elapsed_ms > budget_ms:
            problems.append(f"{ex.method} {ex.path} ({ex.step}): answered in {ex.elapsed_ms:.0f} ms, "
                            f"over the {budget_ms:.0f} ms budget")
    return problems


def _printable(body: Any) -> Any:
    if isinstance(body, dict) and set(body) == {"_text"}:
        text = body["_text"]
        return text if len(text) <= 300 else text[:300] + "…"
    return body
