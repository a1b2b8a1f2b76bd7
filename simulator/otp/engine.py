"""The one OTP engine: 3DS SMS OTP, tokenization step-up and one-time login all use it.

Pure domain logic: no HTTP, no Flask. State lives in `otp_challenges`, `otp_events` and
`otp_lockouts` (see `simulator/store.py`, section "OTP engine"); time comes from the sandbox clock.

Usage (the whole public API)::

    from simulator.otp import OtpEngine, OtpPolicy, OtpResult, engine_for

    engine = engine_for(rt)                      # or OtpEngine(rt.db, rt.clock, rt.secret)
    policy = OtpPolicy.from_issuer_config(rt.issuers.config(issuer_id)["otp_policy"])
    issued = engine.issue("3DS", subject=f"{issuer_id}:{consumer_id}", target="+16175550103",
                          policy=policy, correlation=acs_trans_id)
    challenge_id, code = issued                  # the code: handed out exactly once, to deliver it
    check = engine.verify(challenge_id, typed_code)
    if check.result is OtpResult.OK: ...
    elif check.result is OtpResult.WRONG: check.remaining_attempts
    again = engine.resend(challenge_id)          # new code (again.code), the old one is dead

Rules (each configurable through `OtpPolicy`; NIST SP 800-63B-style defaults):

* **Generation**: CSPRNG (`secrets`), `length` characters from `alphabet` ("numeric" = 0-9,
  "alphanumeric" = digits and upper-case letters without the look-alikes 0/O/1/I/L). Alphanumeric
  codes are compared case-insensitively; spaces and hyphens the user typed are ignored.
* **Storage**: only HMAC-SHA256(server secret, challenge id + code) — keyed and salted per challenge;
  compared with `hmac.compare_digest`. Phone numbers/emails (targets) are stored as a keyed hash plus
  a masked form, never in clear.
* **TTL** on the sandbox clock (`ttl_seconds`): an expired code answers EXPIRED, never OK.
* **Single use**: after OK the challenge answers USED.
* **Maximum attempts** (`max_attempts`): every wrong code counts; the attempt that exhausts them
  answers LOCKED and from then on even the right code answers LOCKED.
* **Resends** (`max_resends`): each resend issues a fresh code with a fresh TTL and kills the old
  one; attempts are NOT reset (a resend must not buy more guesses). Beyond the limit →
  `ResendLimitReached`.
* **Rate limit** (`rate_limit_per_hour`): codes sent (issues + resends) per target and per subject in
  a sliding hour, across purposes (an SMS-bombing guard) → `OtpRateLimited` with `retry_after`.
* **Lockout** (`lockout_attempts`, `lockout_minutes`; login apps): after M wrong codes in a row for a
  subject (across its challenges, per purpose) the subject is locked for N minutes: `issue` raises
  `SubjectLocked`, `verify` answers LOCKED, and its open challenges are closed.

Nothing here ever puts a code into an exception message, a log line or a repr.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.errors import Conflict, NotFound, TooManyRequests, ValidationFailed

NUMERIC = "0123456789"
# Upper-case letters and digits minus the look-alikes (0/O, 1/I/L): codes read out or typed from an
# SMS on a small screen.
ALPHANUMERIC = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
ALPHABETS = {"numeric": NUMERIC, "alphanumeric": ALPHANUMERIC}

PURPOSES = ("3DS", "TOKENIZATION", "LOGIN")
RATE_WINDOW_SECONDS = 3600.0


# -- policy ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OtpPolicy:
    """How codes look and live. Defaults follow NIST SP 800-63B (6 digits, ≤ 10 minutes, limited
    attempts, rate limiting)."""

    length: int = 6
    alphabet: str = "numeric"
    ttl_seconds: int = 300
    max_attempts: int = 3
    max_resends: int = 3
    rate_limit_per_hour: int = 10
    lockout_attempts: int | None = None
    lockout_minutes: int | None = None

    def __post_init__(self) -> None:
        problems: dict[str, list[str]] = {}
        if not 4 <= int(self.length) <= 10:
            problems["length"] = ["must be between 4 and 10"]
        if self.alphabet not in ALPHABETS:
            problems["alphabet"] = [f"must be one of {sorted(ALPHABETS)}"]
        if not 30 <= int(self.ttl_seconds) <= 3600:
            problems["ttl_seconds"] = ["must be between 30 and 3600"]
        if not 1 <= int(self.max_attempts) <= 20:
            problems["max_attempts"] = ["must be between 1 and 20"]
        if not 0 <= int(self.max_resends) <= 10:
            problems["max_resends"] = ["must be between 0 and 10"]
        if not 1 <= int(self.rate_limit_per_hour) <= 1000:
            problems["rate_limit_per_hour"] = ["must be between 1 and 1000"]
        if (self.lockout_attempts is None) != (self.lockout_minutes is None):
            problems["lockout_attempts"] = ["lockout_attempts and lockout_minutes go together"]
        if self.lockout_attempts is not None and not 1 <= int(self.lockout_attempts) <= 100:
            problems["lockout_attempts"] = ["must be between 1 and 100"]
        if self.lockout_minutes is not None and not 1 <= int(self.lockout_minutes) <= 1440:
            problems["lockout_minutes"] = ["must be between 1 and 1440"]
        if problems:
            raise ValidationFailed("invalid OTP policy", fields=problems)

    @property
    def characters(self) -> str:
        return ALPHABETS[self.alphabet]

    @classmethod
    def from_issuer_config(cls, cfg: Mapping[str, Any] | None) -> "OtpPolicy":
        """From an issuer's `otp_policy` configuration block (missing keys take the defaults)."""
        cfg = dict(cfg or {})
        known = {k: cfg[k] for k in ("length", "alphabet", "ttl_seconds", "max_attempts", "max_resends",
                                     "rate_limit_per_hour", "lockout_attempts", "lockout_minutes") if k in cfg}
        return cls(**known)

    @classmethod
    def from_login_app(cls, otp: Mapping[str, Any] | None) -> "OtpPolicy":
        """From a one-time-login app's `otp` settings (`length`, `expiration_minutes`,
        `lockout_attempts`, `lockout_minutes`). A single code gets as many tries as the lockout
        allows; the lockout then closes every open code of that phone number."""
        otp = dict(otp or {})
        attempts = int(otp.get("lockout_attempts", 5))
        return cls(length=int(otp.get("length", 6)), alphabet="numeric",
                   ttl_seconds=int(otp.get("expiration_minutes", 5)) * 60,
                   max_attempts=attempts, max_resends=int(otp.get("max_resends", 3)),
                   rate_limit_per_hour=int(otp.get("rate_limit_per_hour", 10)),
                   lockout_attempts=attempts, lockout_minutes=int(otp.get("lockout_minutes", 15)))

    def as_dict(self) -> dict:
        return {"length": self.length, "alphabet": self.alphabet, "ttl_seconds": self.ttl_seconds,
                "max_attempts": self.max_attempts, "max_resends": self.max_resends,
                "rate_limit_per_hour": self.rate_limit_per_hour, "lockout_attempts": self.lockout_attempts,
                "lockout_minutes": self.lockout_minutes}


# -- results and errors ------------------------------------------------------------------------
class OtpResult(str, enum.Enum):
    OK = "OK"              # right code, in time; the challenge is now used
    WRONG = "WRONG"        # wrong code; see remaining_attempts (> 0)
    EXPIRED = "EXPIRED"    # TTL passed (resend to get a new code, if resends are left)
    LOCKED = "LOCKED"      # attempts exhausted (this attempt or before), or the subject is locked out
    USED = "USED"          # already verified once (single use)
    UNKNOWN = "UNKNOWN"    # no such challenge (or cancelled)


@dataclass(frozen=True)
class Verification:
    result: OtpResult
    remaining_attempts: int = 0
    locked_until: float | None = None   # set when a subject lockout is in force

    @property
    def ok(self) -> bool:
        return self.result is OtpResult.OK


@dataclass(frozen=True)
class Issued:
    """A freshly issued (or resent) code. Unpacks as `(challenge_id, code)`. The code is not in the
    repr, so logging this object does not leak it."""

    challenge_id: str
    code: str = field(repr=False)
    expires_at: float = 0.0
    resends_left: int = 0
    target_masked: str = ""

    def __iter__(self) -> Iterator[str]:
        return iter((self.challenge_id, self.code))


class OtpError(Exception):
    """Marker base for the engine's domain errors (each is also an `ApiError` with its HTTP status)."""


class OtpRateLimited(OtpError, TooManyRequests):
    def __init__(self, scope: str, retry_after: int):
        super().__init__(f"too many codes sent to this {scope}; try again in {retry_after} s",
                         error="otp_rate_limited", headers={"Retry-After": str(retry_after)},
                         extra={"retryAfter": retry_after, "scope": scope})
        self.retry_after = retry_after
        self.scope = scope


class SubjectLocked(OtpError, TooManyRequests):
    def __init__(self, locked_until: float, retry_after: int):
        super().__init__(f"too many wrong codes; locked for {retry_after} s", error="otp_locked",
                         headers={"Retry-After": str(retry_after)}, extra={"retryAfter": retry_after})
        self.locked_until = locked_until
        self.retry_after = retry_after


class ResendLimitReached(OtpError, TooManyRequests):
    def __init__(self, max_resends: int):
        super().__init__(f"no resends left (limit {max_resends})", error="otp_resend_limit")


class ChallengeNotFound(OtpError, NotFound):
    def __init__(self):
        super().__init__("unknown OTP challenge", error="otp_challenge_not_found")


class ChallengeClosed(OtpError, Conflict):
    def __init__(self, status: str):
        super().__init__(f"the OTP challenge is {status.lower()}", error="otp_challenge_closed",
                         extra={"challengeStatus": status})
        self.challenge_status = status


# -- the engine --------------------------------------------------------------------------------
ACTIVE, VERIFIED, LOCKED, EXPIRED, CANCELLED = "ACTIVE", "VERIFIED", "LOCKED", "EXPIRED", "CANCELLED"


def mask_target(target: str) -> str:
    """`+16175550103` → `+1******0103`; `carol@mail.example` → `c***@mail.example`."""
    if "@" in target:
        local, _, domain = target.partition("@")
        return (local[:1] or "*") + "***@" + domain
    if len(target) <= 4:
        return "*" * len(target)
    head = 2 if target.startswith("+") else 0
    return target[:head] + "*" * max(len(target) - head - 4, 2) + target[-4:]


class OtpEngine:
    def __init__(self, db: Database, clock: Clock, secret: bytes):
        self.db = db
        self.clock = clock
        self._secret = secret

    # -- hashing -------------------------------------------------------------------------------
    def _code_hash(self, challenge_id: str, code: str) -> str:
        return hmac.new(self._secret, f"otp:{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def _ref(self, kind: str, value: str) -> str:
        return hmac.new(self._secret, f"otp-{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def generate(policy: OtpPolicy) -> str:
        chars = policy.characters
        return "".join(secrets.choice(chars) for _ in range(policy.length))

    @staticmethod
    def _normalise(code: str, policy: OtpPolicy) -> str:
        code = "".join(ch for ch in str(code) if ch not in " -\t")
        return code.upper() if policy.alphabet == "alphanumeric" else code

    # -- issue ---------------------------------------------------------------------------------
    def issue(self, purpose: str, subject: str, target: str, policy: OtpPolicy,
              correlation: str | None = None) -> Issued:
        """A new challenge for `subject` (e.g. "issuer:consumer", or a login app's phone number)
        whose code goes to `target` (phone or email). Raises `OtpRateLimited` or `SubjectLocked`."""
        if purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {PURPOSES}")
        now = self.clock.now()
        challenge_id = "otp-" + uuid.uuid4().hex
        code = self.generate(policy)
        subject_ref, target_ref = self._ref("subject", subject), self._ref("target", target)
        with self.db.transaction():
            self._check_lockout(purpose, subject_ref, now, raise_error=True)
            self._check_rate(subject_ref, target_ref, policy, now)
            self.db.insert("otp_challenges", {
                "challenge_id": challenge_id, "purpose": purpose, "subject": subject, "subject_ref": subject_ref,
                "target_ref": target_ref, "target_masked": mask_target(target),
                "code_hash": self._code_hash(challenge_id, self._normalise(code, policy)),
                "policy": policy.as_dict(), "status": ACTIVE, "attempts": 0, "resends": 0,
                "correlation": correlation, "created_at": now, "expires_at": now + policy.ttl_seconds,
                "updated_at": now, "closed_at": None,
            })
            self._event("sent", purpose, subject_ref, target_ref, now)
        return Issued(challenge_id, code, now + policy.ttl_seconds, policy.max_resends, mask_target(target))

    # -- verify --------------------------------------------------------------------------------
    def verify(self, challenge_id: str, code: str) -> Verification:
        """Check a typed code. Never raises for a wrong/expired/used code: the answer says which."""
        now = self.clock.now()
        with self.db.transaction():
            row = self.db.get("otp_challenges", challenge_id=challenge_id)
            if row is None or row["status"] == CANCELLED:
                return Verification(OtpResult.UNKNOWN)
            policy = _policy(row)
            if row["status"] == VERIFIED:
                return Verification(OtpResult.USED)
            if row["status"] == LOCKED:
                return Verification(OtpResult.LOCKED, 0, self._locked_until(row["purpose"], row["subject_ref"], now))
            locked_until = self._check_lockout(row["purpose"], row["subject_ref"], now)
            if locked_until is not None:
                self._close(challenge_id, LOCKED, now)
                return Verification(OtpResult.LOCKED, 0, locked_until)
            if row["status"] == EXPIRED or now >= row["expires_at"]:
                if row["status"] != EXPIRED:
                    self._close(challenge_id, EXPIRED, now)
                return Verification(OtpResult.EXPIRED, policy.max_attempts - row["attempts"])
            # Compute the hash even for malformed input so timing does not reveal the format check.
            given = self._code_hash(challenge_id, self._normalise(code, policy))
            if hmac.compare_digest(given, row["code_hash"]):
                self.db.update("otp_challenges", {"challenge_id": challenge_id},
                               {"status": VERIFIED, "updated_at": now, "closed_at": now})
                self._reset_failures(row["purpose"], row["subject_ref"], now)
                return Verification(OtpResult.OK, policy.max_attempts - row["attempts"])
            attempts = row["attempts"] + 1
            remaining = max(policy.max_attempts - attempts, 0)
            self.db.update("otp_challenges", {"challenge_id": challenge_id},
                           {"attempts": attempts, "updated_at": now})
            locked_until = self._record_failure(row["purpose"], row["subject_ref"], policy, now)
            if locked_until is not None:
                return Verification(OtpResult.LOCKED, 0, locked_until)
            if remaining == 0:
                self._close(challenge_id, LOCKED, now)
                return Verification(OtpResult.LOCKED, 0)
            return Verification(OtpResult.WRONG, remaining)

    # -- resend --------------------------------------------------------------------------------
    def resend(self, challenge_id: str, target: str | None = None) -> Issued:
        """A fresh code (fresh TTL) for an open or expired challenge; the previous code stops
        working. `target` may change the destination (e.g. the cardholder picked another method).
        Raises `ChallengeNotFound`, `ChallengeClosed`, `ResendLimitReached`, `OtpRateLimited`,
        `SubjectLocked`."""
        now = self.clock.now()
        with self.db.transaction():
            row = self.db.get("otp_challenges", challenge_id=challenge_id)
            if row is None or row["status"] == CANCELLED:
                raise ChallengeNotFound()
            if row["status"] in (VERIFIED, LOCKED):
                raise ChallengeClosed(row["status"])
            policy = _policy(row)
            self._check_lockout(row["purpose"], row["subject_ref"], now, raise_error=True)
            if row["resends"] >= policy.max_resends:
                raise ResendLimitReached(policy.max_resends)
            target_ref = self._ref("target", target) if target else row["target_ref"]
            self._check_rate(row["subject_ref"], target_ref, policy, now)
            code = self.generate(policy)
            values = {"code_hash": self._code_hash(challenge_id, self._normalise(code, policy)),
                      "status": ACTIVE, "resends": row["resends"] + 1, "expires_at": now + policy.ttl_seconds,
                      "updated_at": now, "closed_at": None, "target_ref": target_ref}
            if target:
                values["target_masked"] = mask_target(target)
            self.db.update("otp_challenges", {"challenge_id": challenge_id}, values)
            self._event("sent", row["purpose"], row["subject_ref"], target_ref, now)
        return Issued(challenge_id, code, now + policy.ttl_seconds, policy.max_resends - row["resends"] - 1,
                      values.get("target_masked", row["target_masked"]))

    # -- misc ----------------------------------------------------------------------------------
    def cancel(self, challenge_id: str) -> None:
        """Close a challenge (the flow was abandoned); later verifies answer UNKNOWN."""
        now = self.clock.now()
        with self.db.transaction():
            row = self.db.get("otp_challenges", challenge_id=challenge_id)
            if row is not None and row["status"] == ACTIVE:
                self._close(challenge_id, CANCELLED, now)

    def get(self, challenge_id: str) -> dict | None:
        """A public view of a challenge (no hash, no code, no clear-text target)."""
        row = self.db.get("otp_challenges", challenge_id=challenge_id)
        if row is None:
            return None
        policy = _policy(row)
        status = row["status"]
        if status == ACTIVE and self.clock.now() >= row["expires_at"]:
            status = EXPIRED
        return {"challengeId": row["challenge_id"], "purpose": row["purpose"], "subject": row["subject"],
                "status": status, "attempts": row["attempts"],
                "remainingAttempts": max(policy.max_attempts - row["attempts"], 0),
                "resends": row["resends"], "resendsLeft": max(policy.max_resends - row["resends"], 0),
                "target": row["target_masked"], "correlation": row["correlation"],
                "expiresAt": self.clock.isoformat(row["expires_at"]),
                "createdAt": self.clock.isoformat(row["created_at"])}

    def lockout_status(self, purpose: str, subject: str) -> float | None:
        """When the subject's lockout ends (epoch seconds), or None if it is not locked."""
        return self._locked_until(purpose, self._ref("subject", subject), self.clock.now())

    # -- internals -----------------------------------------------------------------------------
    def _close(self, challenge_id: str, status: str, now: float) -> None:
        self.db.update("otp_challenges", {"challenge_id": challenge_id},
                       {"status": status, "updated_at": now, "closed_at": now})

    def _event(self, kind: str, purpose: str, subject_ref: str, target_ref: str, now: float) -> None:
        self.db.insert("otp_events", {"kind": kind, "purpose": purpose, "subject_ref": subject_ref,
                                      "target_ref": target_ref, "at": now})

    def _check_rate(self, subject_ref: str, target_ref: str, policy: OtpPolicy, now: float) -> None:
        since = now - RATE_WINDOW_SECONDS
        # The window only ever slides forward, so older events are dead weight.
        self.db.execute("DELETE FROM otp_events WHERE at <= ?", (since,))
        for scope, column, ref in (("phone number or address", "target_ref", target_ref),
                                   ("consumer", "subject_ref", subject_ref)):
            rows = self.db.all(f"SELECT at FROM otp_events WHERE kind = 'sent' AND {column} = ? AND at > ? "
                               f"ORDER BY at", (ref, since))
            if len(rows) >= policy.rate_limit_per_hour:
                # The oldest event that must leave the window before one more is allowed.
                oldest = rows[len(rows) - policy.rate_limit_per_hour]["at"]
                raise OtpRateLimited(scope, max(int(oldest + RATE_WINDOW_SECONDS - now + 0.999), 1))

    def _locked_until(self, purpose: str, subject_ref: str, now: float) -> float | None:
        row = self.db.get("otp_lockouts", purpose=purpose, subject_ref=subject_ref)
        if row and row["locked_until"] and row["locked_until"] > now:
            return row["locked_until"]
        return None

    def _check_lockout(self, purpose: str, subject_ref: str, now: float, *, raise_error: bool = False):
        until = self._locked_until(purpose, subject_ref, now)
        if until is not None and raise_error:
            raise SubjectLocked(until, max(int(until - now + 0.999), 1))
        return until

    def _record_failure(self, purpose: str, subject_ref: str, policy: OtpPolicy, now: float) -> float | None:
        """Count a wrong code towards the subject's lockout; returns the lockout end if it starts now."""
        if not policy.lockout_attempts:
            return None
        row = self.db.get("otp_lockouts", purpose=purpose, subject_ref=subject_ref)
        failures = (row["failures"] if row else 0) + 1
        locked_until = None
        if failures >= policy.lockout_attempts:
            locked_until = now + policy.lockout_minutes * 60
            failures = 0
            # Every open code of this subject dies with the lockout.
            self.db.execute("UPDATE otp_challenges SET status = ?, updated_at = ?, closed_at = ? "
                            "WHERE purpose = ? AND subject_ref = ? AND status = ?",
                            (LOCKED, now, now, purpose, subject_ref, ACTIVE))
        self.db.insert("otp_lockouts", {"purpose": purpose, "subject_ref": subject_ref, "failures": failures,
                                        "locked_until": locked_until, "updated_at": now}, replace=True)
        return locked_until

    def _reset_failures(self, purpose: str, subject_ref: str, now: float) -> None:
        self.db.execute("UPDATE otp_lockouts SET failures = 0, updated_at = ? WHERE purpose = ? AND subject_ref = ?",
                        (now, purpose, subject_ref))


def _policy(row: dict) -> OtpPolicy:
    import json

    return OtpPolicy(**json.loads(row["policy"]))
