"""The one-time login flow (seed 003): send an SMS OTP, validate it, follow the result URI to the
app's redirect URI with an authorization code. The code exchange itself is the OIDC provider's.

Every state change is one transaction; errors are raised only after it has committed, so a wrong
passcode still counts towards the lockout."""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.journal import Journal

from ..messaging import templates as tpl
from ..otp import OtpEngine, OtpRateLimited, OtpResult, SubjectLocked, mask_target
from .apps import LoginApp, LoginApps
from .delivery import SmsSender
from .errors import (
    AccessDenied,
    InvalidClient,
    InvalidRequest,
    LoginLocked,
    OAuthError,
    OtpInvalid,
    TooManyCodes,
    UserNotFound,
)
from .oidc import OidcProvider
from .users import Users, normalize_phone

APP, D1 = "Login app", "D1"
PURPOSE = "LOGIN"
PENDING, VERIFIED, SUPERSEDED, FAILED = "PENDING", "VERIFIED", "SUPERSEDED", "FAILED"


def check_custom_message(template: str) -> str:
    """A custom SMS must contain `{app}` (anti-phishing: the user sees who asks) and `{otp}`, and no
    other placeholder or format spec (the messaging service's template rules)."""
    try:
        tpl.check_template(template, tpl.LOGIN_PLACEHOLDERS, {"app", "otp"})
    except tpl.TemplateError as exc:
        raise InvalidRequest(f"custom_message: {exc}", fields={"custom_message": [str(exc)]}) from None
    return template


def add_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True)
class LoginSettings:
    result_ttl: int = 300  # seconds the result URI can be followed

    @classmethod
    def from_config(cls, cfg: dict) -> "LoginSettings":
        return cls(result_ttl=int(cfg.get("LOGIN_RESULT_TTL", cls.result_ttl)))


class OneTimeLogin:
    def __init__(self, *, db: Database, clock: Clock, journal: Journal, apps: LoginApps, users: Users,
                 provider: OidcProvider, otp: OtpEngine, send_sms: SmsSender, public_url: str, hasher,
                 settings: LoginSettings | None = None):
        self.db = db
        self.clock = clock
        self.journal = journal
        self.apps = apps
        self.users = users
        self.provider = provider
        self.otp = otp
        self.send_sms = send_sms
        self.public_url = public_url.rstrip("/")
        self._hash = hasher
        self.settings = settings or LoginSettings()

    def _app(self, client_id: str) -> LoginApp:
        app = self.apps.get(client_id)
        if app is None:  # the app was removed after its token was issued
            raise InvalidClient("the client of this access token is no longer configured")
        return app

    # -- step 3: send ----------------------------------------------------------------------------
    def send_sms_otp(self, client_id: str, *, phone_number: str, redirect_uri: str, create_new_user: bool = False,
                     custom_message: str | None = None, sender_id: str | None = None,
                     accept_language: str | None = None) -> dict:
        app = self._app(client_id)
        phone = normalize_phone(phone_number)
        app.check_redirect_uri(redirect_uri)
        if custom_message is not None:
            check_custom_message(custom_message)
        user = self.users.by_phone(phone)
        if user is None and not create_new_user:
            raise UserNotFound("no user has this phone number; send create_new_user=true to sign up a new user")
        if user is None and not app.public_signups:
            raise AccessDenied("no user has this phone number and public sign-ups are disabled for this app")

        attempt_id = "otl-" + uuid.uuid4().hex[:20]
        now = self.clock.now()
        subject = f"{client_id}:{phone}"
        try:
            with self.db.transaction():
                # A new code replaces any code still pending for this app and phone.
                for old in self.db.all("SELECT attempt_id, challenge_id FROM login_attempts WHERE client_id = ? "
                                       "AND phone = ? AND status = ?", (client_id, phone, PENDING)):
                    self.otp.cancel(old["challenge_id"])
                    self.db.update("login_attempts", {"attempt_id": old["attempt_id"]},
                                   {"status": SUPERSEDED, "updated_at": now})
                issued = self.otp.issue(PURPOSE, subject=subject, target=phone, policy=app.otp_policy,
                                        correlation=attempt_id)
                self.db.insert("login_attempts", {
                    "attempt_id": attempt_id, "client_id": client_id, "phone": phone,
                    "user_id": user["user_id"] if user else None, "create_new_user": int(bool(create_new_user)),
                    "redirect_uri": redirect_uri, "challenge_id": issued.challenge_id, "status": PENDING,
                    "created_at": now, "updated_at": now, "expires_at": issued.expires_at,
                })
        except SubjectLocked as exc:
            raise LoginLocked("too many wrong passcodes for this phone number; try again later",
                              exc.retry_after) from None
        except OtpRateLimited as exc:
            raise TooManyCodes(f"too many codes sent to this {exc.scope}; try again later", exc.retry_after) from None

        self.journal.record(attempt_id, APP, D1, "POST /cis/v1/auth/otp/sms", {
            "phone_number": mask_target(phone), "create_new_user": create_new_user, "redirect_uri": redirect_uri,
            "custom_message": custom_message, "sender_id": sender_id, "client_id": client_id,
        }, method="POST", path="/cis/v1/auth/otp/sms", aliases=(issued.challenge_id,))
        policy = app.otp_policy
        delivery = self.send_sms(to=phone, code=issued.code, app_name=app.name, sender_id=sender_id or app.sender_id,
                                 custom_message=custom_message, correlation=attempt_id,
                                 ttl_seconds=policy.ttl_seconds, accept_language=accept_language)
        if not delivery.ok:
            # The code never reached the phone: it must not stay usable.
            with self.db.transaction():
                self.otp.cancel(issued.challenge_id)
                self.db.update("login_attempts", {"attempt_id": attempt_id},
                               {"status": FAILED, "updated_at": self.clock.now()})
            error = OAuthError(delivery.reason or "the SMS could not be delivered",
                               status=502 if delivery.error == "provider_failed" else 400,
                               error=delivery.error or "sms_not_delivered", fields=delivery.fields or None,
                               extra={"delivery": delivery.view()})
            self.journal.record(attempt_id, D1, APP, f"{error.status} {error.error}", error.body(),
                                kind="response", status=error.status)
            raise error
        answer = {"message": "SMS OTP sent", "login_id": attempt_id,
                  "expires_in": int(issued.expires_at - now), "delivery": delivery.view()}
        self.journal.record(attempt_id, D1, APP, "200 SMS OTP sent", answer, kind="response", status=200)
        return answer

    # -- step 4: validate --------------------------------------------------------------------------
    def validate_sms_otp(self, client_id: str, *, phone_number: str, passcode: str) -> dict:
        self._app(client_id)
        phone = normalize_phone(phone_number)
        now = self.clock.now()
        ticket = None
        with self.db.transaction():
            attempt = self.db.one("SELECT * FROM login_attempts WHERE client_id = ? AND phone = ? AND status = ? "
                                  "ORDER BY created_at DESC LIMIT 1", (client_id, phone, PENDING))
            check = self.otp.verify(attempt["challenge_id"], passcode) if attempt else None
            if check is not None and check.ok:
                self.db.update("login_attempts", {"attempt_id": attempt["attempt_id"]},
                               {"status": VERIFIED, "updated_at": now})
                ticket = secrets.token_urlsafe(32)
                self.db.insert("login_results", {
                    "ticket_hash": self._hash(ticket, "login-result"), "attempt_id": attempt["attempt_id"],
                    "client_id": client_id, "redirect_uri": attempt["redirect_uri"], "phone": phone,
                    "user_id": attempt["user_id"], "create_new_user": attempt["create_new_user"],
                    "auth_time": now, "created_at": now, "expires_at": now + self.settings.result_ttl,
                    "used_at": None,
                })
        correlation = attempt["attempt_id"] if attempt else None
        self.journal.record(correlation, APP, D1, "POST /cis/v1/auth/otp/sms/validation",
                            {"phone_number": mask_target(phone), "passcode": passcode}, method="POST",
                            path="/cis/v1/auth/otp/sms/validation")
        if ticket is not None:
            answer = {"result": f"{self.public_url}/cis/v1/auth/otp/sms/result/{ticket}"}
            self.journal.record(correlation, D1, APP, "200 OTP valid", {"result": "<result URI>"},
                                kind="response", status=200)
            return answer
        error = self._validation_error(check)
        self.journal.record(correlation, D1, APP, f"{error.status} {error.error}", error.body(), kind="response",
                            status=error.status)
        raise error

    def _validation_error(self, check):
        if check is None:
            return OtpInvalid("no pending SMS OTP for this phone number; send one first",
                              extra={"otp_status": "NOT_FOUND"})
        if check.result is OtpResult.WRONG:
            return OtpInvalid("the passcode is wrong", extra={"otp_status": "WRONG",
                                                              "remaining_attempts": check.remaining_attempts})
        if check.result is OtpResult.EXPIRED:
            return OtpInvalid("the passcode has expired; send a new one", extra={"otp_status": "EXPIRED"})
        if check.result is OtpResult.LOCKED and check.locked_until:
            retry_after = max(math.ceil(check.locked_until - self.clock.now()), 1)
            return LoginLocked("too many wrong passcodes for this phone number; try again later", retry_after,
                               extra={"retryAfter": retry_after, "otp_status": "LOCKED",
                                      "locked_until": self.clock.isoformat(check.locked_until)})
        if check.result is OtpResult.LOCKED:
            return OtpInvalid("too many wrong passcodes for this code; send a new one",
                              extra={"otp_status": "LOCKED"})
        return OtpInvalid("the passcode is no longer valid; send a new one",
                          extra={"otp_status": check.result.value})

    # -- step 5a: the result URI -------------------------------------------------------------------
    def follow_result(self, ticket: str) -> str:
        """The redirect target (`redirect_uri?code=…`) for a result URI; single use, short-lived."""
        now = self.clock.now()
        with self.db.transaction():
            row = self.db.get("login_results", ticket_hash=self._hash(ticket, "login-result"))
            usable = row is not None and row["used_at"] is None and now < row["expires_at"]
            if usable:
                self.db.update("login_results", {"ticket_hash": row["ticket_hash"]}, {"used_at": now})
                code = self.provider.issue_code(
                    client_id=row["client_id"], redirect_uri=row["redirect_uri"], phone=row["phone"],
                    user_id=row["user_id"], create_new_user=bool(row["create_new_user"]),
                    auth_time=row["auth_time"], correlation=row["attempt_id"])
        if not usable:
            raise InvalidRequest("this result URI is invalid, expired or already used")
        self.journal.record(row["attempt_id"], APP, D1, "GET result URI", None, method="GET")
        self.journal.record(row["attempt_id"], D1, APP, "302 to redirect_uri with code",
                            {"redirect_uri": row["redirect_uri"]}, kind="response", status=302)
        return add_query(row["redirect_uri"], code=code)

