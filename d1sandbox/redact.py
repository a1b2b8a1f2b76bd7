"""Redaction: the single place that decides what a secret looks like.

Everything that leaves the process for a human (journal, logs, error messages, diagrams) goes
through `redact()`. The sandbox inbox is the only place an OTP is ever shown."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# Keys whose values are secrets in every message we know (compared lower-case).
SECRET_KEYS = {
    "otp",
    "otpvalue",
    "passcode",
    "challengedataentry",
    "client_secret",
    "clientsecret",
    "access_token",
    "accesstoken",
    "id_token",
    "refresh_token",
    "password",
    "authorization",
    "authenticationvalue",
    "secret",
    "code",
    "cvv",
    "cvc",
    "tokenvalue",
    "sdkephempubkey",
    "acsephempubkey",
}
# Keys that hold a PAN: masked to the last four digits.
PAN_KEYS = {"pan", "acctnumber", "cardnumber", "accountnumber", "primaryaccountnumber", "newpan", "fpan"}

# Contact details are PII: kept recognisable for a human reading a trace, not reusable.
PHONE_KEYS = {"phone", "phonenumber", "phone_number", "msisdn", "mobile"}
EMAIL_KEYS = {"email", "emailaddress", "email_address"}

_DIGIT_RUN = re.compile(r"(?<!\d)\d{13,19}(?!\d)")


def luhn_ok(number: str) -> bool:
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def mask_pan(pan: Any) -> str:
    digits = "".join(ch for ch in str(pan) if ch.isdigit())
    if len(digits) < 4:
        return MASK
    return "*" * 4 + digits[-4:]


def mask_phone(phone: Any) -> str:
    text = str(phone)
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if len(digits) < 6:
        return MASK
    hidden = set(digits[3:-2])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def mask_email(email: Any) -> str:
    text = str(email)
    local, at, domain = text.partition("@")
    if not at:
        return MASK
    return (local[:1] + "***" if local else MASK) + "@" + domain


def redact_text(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Mask known secret values and anything that looks like a PAN inside free text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    if len(text) < 13:  # no room for a PAN (13-19 digits): skip the regex (most values are short)
        return text
    return _DIGIT_RUN.sub(_mask_match, text)


def _mask_match(match: re.Match) -> str:
    return mask_pan(match.group(0)) if luhn_ok(match.group(0)) else match.group(0)


_PLAIN, _PAN, _SECRET, _PHONE, _EMAIL = 0, 1, 2, 3, 4
_KEY_KINDS: dict[Any, int] = {}  # key → kind; message keys come from a small vocabulary


def _key_kind(key: Any) -> int:
    kind = _KEY_KINDS.get(key)
    if kind is None:
        lowered = str(key).lower().replace("-", "_")
        kind = (_PAN if lowered in PAN_KEYS else _SECRET if lowered in SECRET_KEYS
                else _PHONE if lowered in PHONE_KEYS else _EMAIL if lowered in EMAIL_KEYS else _PLAIN)
        if len(_KEY_KINDS) < 20_000:  # arbitrary keys from outside must not grow it without bound
            _KEY_KINDS[key] = kind
    return kind


_MASKERS = {_PAN: mask_pan, _SECRET: lambda item: MASK,
            _PHONE: lambda item: mask_phone(item) if isinstance(item, str) else MASK,
            _EMAIL: lambda item: mask_email(item) if isinstance(item, str) else MASK}


def redact(value: Any, secrets: tuple[str, ...] | list[str] = ()) -> Any:
    """A deep copy of `value` with secrets masked. Never mutates its input."""
    # Hot path (every journaled message): the common leaf types are tested first and key
    # classification is cached; the result is the same as the plain recursive definition.
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            kind = _key_kind(key)
            if kind and item not in (None, ""):
                out[key] = _MASKERS[kind](item)
            elif isinstance(item, str):
                out[key] = redact_text(item, secrets)
            elif isinstance(item, (dict, list, tuple)):
                out[key] = redact(item, secrets)
            else:
                out[key] = item
        return out
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    return value


def redact_headers(headers: dict[str, str] | None) -> dict[str, str]:
    if not headers:
        return {}
    out = {}
    for key, val in headers.items():
        if key.lower() in ("authorization", "cookie", "set-cookie", "proxy-authorization"):
            scheme = val.split(" ", 1)[0] if " " in val else ""
            out[key] = f"{scheme} {MASK}".strip()
        else:
            out[key] = val
    return out
