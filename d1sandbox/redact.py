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


def redact_text(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Mask known secret values and anything that looks like a PAN inside free text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return _DIGIT_RUN.sub(lambda m: mask_pan(m.group(0)) if luhn_ok(m.group(0)) else m.group(0), text)


def redact(value: Any, secrets: tuple[str, ...] | list[str] = ()) -> Any:
    """A deep copy of `value` with secrets masked. Never mutates its input."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            lowered = str(key).lower().replace("-", "_")
            if lowered in PAN_KEYS and item not in (None, ""):
                out[key] = mask_pan(item)
            elif lowered in SECRET_KEYS and item not in (None, ""):
                out[key] = MASK
            else:
                out[key] = redact(item, secrets)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    if isinstance(value, str):
        return redact_text(value, secrets)
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
